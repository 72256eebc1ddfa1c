/**
 * The import graph's rules (run by `npm run lint`): no cycles, and the kernel (`agent/core/`)
 * depends on nothing else of the project. The per-folder "must never import" rules of each
 * README are ESLint's no-restricted-imports (eslint.config.js); this is the whole-graph view.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', comment: 'a cycle makes two parts one', from: {}, to: { circular: true } },
    {
      name: 'kernel-imports-nothing-above',
      severity: 'error',
      comment: 'agent/core is what drivers/ and cloud/ build on: it imports no other part',
      from: { path: '^agent/core/' },
      to: { path: '^(agent/(?!core/)|drivers/|cloud/|scripts/)' },
    },
    {
      name: 'drivers-and-cloud-only-through-the-kernel',
      severity: 'error',
      from: { path: '^(drivers|cloud)/' },
      to: { path: '^agent/(?!core/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
  },
};
