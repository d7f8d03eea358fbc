/** The recipes that come with umlbuild: `umlbuild recipes`, and recipe names on the command line (`umlbuild bookworm`). */
import { findRecipe, RECIPES_DIR, type RecipeRef, type RecipeVariable, type ShippedRecipe, shippedNames, shippedRecipes } from '../recipe/shipped.js';

export type { RecipeRef, RecipeVariable, ShippedRecipe };
export { findRecipe, RECIPES_DIR, shippedNames };

/** The shipped recipes with their descriptions and variables (name, default, description), sorted by name. */
export function recipes(): Promise<ShippedRecipe[]> {
  return shippedRecipes();
}
