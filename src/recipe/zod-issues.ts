/** Turn zod validation errors into located recipe issues. */
import type { z } from 'zod';
import type { RecipeIssue } from '../errors.js';
import type { KeyPath, RecipeSource } from './source.js';

export function zodIssues(src: RecipeSource, at: KeyPath, error: z.ZodError): RecipeIssue[] {
  const out: RecipeIssue[] = [];
  for (const issue of error.issues) {
    const path: KeyPath = [...at, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(src.issue([...path, key], `unknown key "${key}"`, { key: true }));
    } else {
      out.push(src.issue(path, describe(issue)));
    }
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `required (${issue.expected})`;
  if (issue.code === 'invalid_union') return issue.message === 'Invalid input' ? 'not one of the accepted forms' : issue.message;
  return issue.message;
}
