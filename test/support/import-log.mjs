// A module.register() resolve hook for tests: appends the URL of every module the program
// resolves to the file given as `data.file`, one a line. Register it after tsx so that the URLs
// are the real files. Used by test/agent/cli/lazy-load.test.ts.
import { appendFileSync } from 'node:fs';

let file;

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(file, result.url + '\n');
  return result;
}
