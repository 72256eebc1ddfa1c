// What the gateway's bundle leaves out, and the check that it did.
//
// The CLI carries three faces a gateway never runs: the demo (Modbus simulators, the IoT Hub
// emulator, the reconciler), `hub …` (the emulator: aedes, node-forge, rhea) and `cloud …` (the
// reconciler: better-sqlite3, pg, @azure/event-hubs). Each is loaded by its command's action with
// `await import()`, so replacing those three modules with one that throws keeps every other
// command whole and turns these into a one-line refusal that says where they do run. The Modbus
// and line-sensor simulators go too (only the demo and the tests run them).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Source module (relative to the repo) → what the refusal says. */
const EXCLUDED = {
  'agent/demo/demo.ts': 'the demo (Modbus simulator, IoT Hub emulator, reconciler)',
  'cloud/iothub/index.ts': "'hub' (the local IoT Hub emulator)",
  'cloud/iothub/dps/index.ts': "'hub dps' (the local Device Provisioning Service emulator)",
  'agent/cli/commands/cloud-actions.ts': "'cloud' (the reconciler, which runs in the cloud)",
};

/** npm packages and project folders that must not be in the gateway's bundle. */
const FORBIDDEN = [
  /(^|\/)node_modules\/(aedes|aedes-[^/]+|node-forge|rhea|rhea-promise|pg|pg-[^/]+|better-sqlite3|@azure\/event-hubs|@azure\/core-amqp)\//,
  /^(cloud|agent\/demo|drivers\/simulators)\//,
];

/** An esbuild plugin: imports of the excluded modules get a module that refuses when loaded. */
export function gatewayOnly(root) {
  const excluded = new Map(Object.entries(EXCLUDED).map(([file, what]) => [join(root, file), what]));
  return {
    name: 'gateway-only',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
        const what = excluded.get(target);
        return what === undefined ? undefined : { path: target, namespace: 'gateway-excluded', pluginData: what };
      });
      // drivers/index.ts, the drivers' public face, also re-exports the simulators (for the demo and
      // the tests); the gateway's copy leaves those statements out. A command that did use a
      // simulator would fail the build here, not on a gateway.
      const driversIndex = join(root, 'drivers/index.ts');
      build.onLoad({ filter: /[\\/]drivers[\\/]index\.ts$/ }, (args) => {
        if (args.path !== driversIndex) return undefined;
        const text = readFileSync(args.path, 'utf8');
        const kept = text.replace(/^export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s+from\s+'\.\/simulators\/[^']+';\n/gm, '');
        if (kept === text) throw new Error('package: drivers/index.ts no longer re-exports ./simulators/: update package-gateway.mjs');
        return { contents: kept, loader: 'ts', resolveDir: dirname(args.path) };
      });
      build.onLoad({ filter: /.*/, namespace: 'gateway-excluded' }, (args) => ({
        resolveDir: root,
        loader: 'ts',
        contents:
          `import { EdgeError } from './agent/core/errors.ts';\n` +
          `throw new EdgeError('EDGE_USAGE', ${JSON.stringify(`${args.pluginData} is not included in the gateway package; run it from a checkout of edge-agent (npm start runs the demo)`)});\n`,
      }));
    },
  };
}

/**
 * Throws if the bundle took in anything of FORBIDDEN; returns the npm packages it holds
 * (name → version), for the copyright file and the build log.
 */
export function checkGatewayBundle(metafile, root, readPackageJson) {
  const inputs = Object.keys(metafile.inputs).filter((p) => !p.startsWith('gateway-excluded:'));
  const bad = inputs.filter((p) => FORBIDDEN.some((re) => re.test(p)));
  if (bad.length) throw new Error(`package: the gateway bundle holds demo/cloud-only modules:\n  ${bad.slice(0, 20).join('\n  ')}`);
  const packages = new Map();
  for (const p of inputs) {
    // From the first node_modules/ on (the checkout's may be a symlink that esbuild resolved),
    // up to the innermost package: node_modules/a/node_modules/@b/c.
    const at = p.indexOf('node_modules/');
    const m = at < 0 ? null : /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(p.slice(at));
    if (!m || packages.has(m[1])) continue;
    packages.set(m[1], readPackageJson(join(root, m[1], 'package.json')));
  }
  // Old packages list `licenses: [{ type }]` (each one a choice) instead of an SPDX `license`.
  const licenseOf = (json) => json.license ?? (Array.isArray(json.licenses) ? json.licenses.map((l) => l.type).join(' OR ') : undefined);
  return [...packages.entries()].map(([dir, json]) => ({ dir, name: json.name, version: json.version, license: licenseOf(json) })).sort((a, b) => a.dir.localeCompare(b.dir));
}
