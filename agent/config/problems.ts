import type { z } from 'zod';

/** One thing wrong with a config document: where (dot path, `(root)` for the whole) and what. */
export interface Problem {
  path: string;
  message: string;
}

/** Every issue zod found, in its order, each named by its path. */
export function zodProblems(error: z.ZodError): Problem[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/** `path: message` lines, the way the CLI prints a refused config. */
export function problemLines(problems: readonly Problem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}`);
}
