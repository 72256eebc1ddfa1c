import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';

const STARTERS = new Set(['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']);
const SOURCE = /\.(ts|mts|mjs|js)$/;

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourcesUnder(path);
    return SOURCE.test(e.name) ? [path] : [];
  });
}

const isChildLimit = (e: ts.Expression) => ts.isCallExpression(e) && e.expression.getText() === 'childLimit';

/** `childLimit(…)` itself, or an options object literal that sets `timeout` or spreads `childLimit(…)`. */
function hasLimit(arg: ts.Expression): boolean {
  if (isChildLimit(arg)) return true;
  if (!ts.isObjectLiteralExpression(arg)) return false;
  return arg.properties.some(
    (p) =>
      ((ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && p.name.getText() === 'timeout') ||
      (ts.isSpreadAssignment(p) && isChildLimit(p.expression)),
  );
}

/** Every use of a child_process starter in `text` that does not pass a limit, as `file:line`. */
function unlimitedStarts(file: string, text: string = readFileSync(file, 'utf8')): string[] {
  if (!/child_process/.test(text)) return [];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const local = new Map<string, string>();
  const namespaces = new Set<string>();
  for (const st of source.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    if (!/^(node:)?child_process$/.test(st.moduleSpecifier.text) || st.importClause?.isTypeOnly) continue;
    const bindings = st.importClause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) {
        const imported = (el.propertyName ?? el.name).text;
        if (!el.isTypeOnly && STARTERS.has(imported)) local.set(el.name.text, imported);
      }
    }
  }
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) return;
    const isStarter =
      (ts.isIdentifier(node) && local.has(node.text) && !ts.isPropertyAccessExpression(node.parent)) ||
      (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && namespaces.has(node.expression.text) && STARTERS.has(node.name.text));
    if (isStarter) {
      const call = node.parent;
      const limited = ts.isCallExpression(call) && call.expression === node && call.arguments.some(hasLimit);
      if (!limited) found.push(`${relative(ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('every child process the suite starts has a time limit', () => {
  it('the check itself finds starts without a limit and a starter passed around, and accepts limited ones', () => {
    const unlimited = [
      "import { spawn, execFile as ef } from 'node:child_process';",
      "import * as cp from 'node:child_process';",
      "spawn('x', [], { stdio: 'pipe' });",
      'const run = promisify(ef);',
      "cp.spawnSync('x', []);",
      "ef('x', [], { cwd: '/', killSignal: 'SIGKILL' }, () => undefined);",
    ].join('\n');
    expect(unlimitedStarts(join(ROOT, 'probe.ts'), unlimited)).toEqual(['probe.ts:3', 'probe.ts:4', 'probe.ts:5', 'probe.ts:6']);
    const limited = [
      "import { spawn, type ChildProcess } from 'node:child_process';",
      "import * as cp from 'node:child_process';",
      "spawn('x', [], { stdio: 'pipe', timeout: 5 });",
      "cp.spawnSync('x', [], { ...childLimit(LONG_MS), cwd: '/' });",
      "spawn('x', [], childLimit());",
      'let c: ChildProcess;',
    ].join('\n');
    expect(unlimitedStarts(join(ROOT, 'probe.ts'), limited)).toEqual([]);
  });

  it('in test/', () => {
    const files = sourcesUnder(join(ROOT, 'test'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((f) => unlimitedStarts(f))).toEqual([]);
  });
});
