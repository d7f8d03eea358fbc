/** The shells `umlbuild completion` writes scripts for: data, so the CLI can declare the argument without loading the API. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];
