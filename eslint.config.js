import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Each folder README's "must never import", as rules: a regex per forbidden import specifier,
 * for the files of that folder. The whole-graph rules (no cycle, a kernel that imports nothing
 * above it) are dependency-cruiser's (.dependency-cruiser.cjs); both run in `npm run lint`.
 */
const boundaries = [
  {
    files: ['agent/**/*.ts'],
    ignores: ['agent/demo/**', 'agent/cli/commands/hub.ts', 'agent/cli/commands/cloud.ts', 'agent/cli/commands/cloud-actions.ts'],
    forbid: [
      ['(^|/)cloud/', 'agent/ never imports cloud/ except the demo and the CLI hub/cloud commands (agent/README.md)'],
      ['(^|/)drivers/(?!index\\.js$|registry\\.js$)', 'agent/ reaches drivers only through drivers/index.ts or drivers/registry.ts (agent/README.md)'],
    ],
  },
  { files: ['agent/core/**/*.ts'], forbid: [['^\\.\\./', 'agent/core is the kernel: it imports no other part of the project']] },
  { files: ['agent/store/**/*.ts', 'agent/stamp/**/*.ts'], forbid: [['^\\.\\./(?!core/)', 'imports only agent/core (README)']] },
  { files: ['agent/analytics/*.ts'], forbid: [['^\\.\\./(?!core/)', 'analytics imports only agent/core (README)']] },
  { files: ['agent/analytics/*/*.ts'], forbid: [['^\\.\\./\\.\\./(?!core/)', 'analytics imports only agent/core (README)']] },
  { files: ['agent/journal/**/*.ts', 'agent/outbox/**/*.ts'], forbid: [['^\\.\\./(forwarder|transport)/|^\\.\\./\\.\\./(cloud|drivers)/', 'never imports forwarder/, transport/, cloud/, drivers/ (README)']] },
  { files: ['agent/pipeline/**/*.ts'], forbid: [['^\\.\\./(forwarder|transport)/|^\\.\\./\\.\\./cloud/', 'never imports forwarder/, transport/, cloud/ (README)']] },
  { files: ['agent/forwarder/**/*.ts'], forbid: [['^\\.\\./\\.\\./(cloud|drivers)/|^azure-iot-', 'never imports cloud/, drivers/ or the SDK (README)']] },
  { files: ['agent/transport/**/*.ts'], forbid: [['^\\.\\./(runtime|twin|methods)/|^\\.\\./\\.\\./(cloud|drivers)/', 'never imports runtime/, twin/, methods/, cloud/, drivers/ (README)']] },
  { files: ['agent/twin/**/*.ts'], forbid: [['^\\.\\./cli/|^\\.\\./\\.\\./(cloud|drivers)/', 'never imports cli/, cloud/, drivers/ (README)']] },
  { files: ['agent/methods/**/*.ts'], forbid: [['^\\.\\./twin/|^\\.\\./\\.\\./(cloud|drivers)/', 'never imports twin/, cloud/, drivers/ (README)']] },
  { files: ['agent/config/**/*.ts'], forbid: [['^\\.\\./(runtime|twin|transport)/|^\\.\\./\\.\\./cloud/', 'never imports runtime/, twin/, transport/, cloud/ (README)']] },
  { files: ['drivers/**/*.ts'], forbid: [['(^|/)agent/(?!core/)', 'drivers/ imports only agent/core (README)'], ['(^|/)cloud/', 'drivers/ never imports cloud/ (README)']] },
  { files: ['cloud/**/*.ts'], forbid: [['(^|/)agent/(?!core/)', 'cloud/ imports only agent/core (README)'], ['(^|/)drivers/', 'cloud/ never imports drivers/ (README)']] },
  { files: ['cloud/reconciler/**/*.ts'], forbid: [['(^|/)iothub/(?!index\\.js$|hub-event\\.js$)', 'the reconciler sees the emulator only through iothub/index.ts and hub-event.ts (README)']] },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // Flat config lets the last matching block set a rule, so each block carries every boundary
  // that applies to its files: its own and the wider ones of its tree.
  ...boundaries.map(({ files, ignores, forbid }) => {
    const wider = boundaries.filter((b) => b.files.length === 1 && b.files[0].endsWith('/**/*.ts') && !b.ignores && files.every((f) => f !== b.files[0] && f.startsWith(b.files[0].slice(0, -'**/*.ts'.length))));
    const agentWide = files.every((f) => f.startsWith('agent/')) && !files.some((f) => f.startsWith('agent/demo') || f.startsWith('agent/cli')) ? boundaries.find((b) => b.ignores)?.forbid ?? [] : [];
    const all = [...forbid, ...wider.flatMap((b) => b.forbid), ...(ignores ? [] : agentWide)];
    return {
      files,
      ...(ignores ? { ignores } : {}),
      rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: all.map(([regex, message]) => ({ regex, message })) }] },
    };
  }),
);
