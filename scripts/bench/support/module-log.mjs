// `node --import ./scripts/bench/support/module-log.mjs …`: at exit, writes every module the
// program loaded to $EDGE_MODULE_LOG, one path a line: ES modules through a resolve hook
// (test/support/import-log.mjs), CommonJS ones (most of the Azure SDK, LevelDB's bindings)
// from require's cache, which an ES resolve hook never sees.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.EDGE_MODULE_LOG;
if (file) {
  register(new URL('../../../test/support/import-log.mjs', import.meta.url), { data: { file } });
  const cache = createRequire(import.meta.url).cache;
  process.once('exit', () => appendFileSync(file, Object.keys(cache).map((p) => `file://${p}\n`).join('')));
}
