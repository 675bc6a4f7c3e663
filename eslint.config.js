// ESLint (flat config) for ferry. Its main job is to make README's architecture picture a checked
// rule instead of a convention (issue #15, "Enforced"): every layer lists what it may import.
//
//   shared/domain    pure rules: imports only shared/domain, zod, node:crypto (hashing and HMAC are
//                    pure functions of their input) and re2js (RE2's linear-time regular expressions,
//                    pure JS: a gate's regex, shared/domain/gate.ts). Kubernetes and Slack object shapes may be imported
//                    as types only (`import type`): they are erased, no SDK code is loaded.
//   shared/ports     interfaces: shared/ports, shared/domain, zod; Kubernetes object types (type only).
//   shared/app       use cases: shared/app, shared/ports, shared/domain, zod, node:crypto (ids, hashes)
//                    and node:timers/promises (deadlines); Kubernetes object types (type only).
//                    No file, network or process I/O: that comes in through a port.
//   shared/adapters  the only shared code that imports SDKs; never imports app, cli or functions.
//   shared/composition  the composition root: builds adapters (SDK clients once per process) and
//                    each use case's deps from one Settings. Imports adapters, app, ports, domain,
//                    shared/config.ts and node: built-ins; SDKs as types only (`import type`).
//   functions/, shared/cli   entry points: get their deps from shared/composition; may import app,
//                    ports, domain and config, never shared/adapters; no SDK except, in
//                    functions/, the Functions Framework they register with.
//   infra/, test/    the local stack and tests: anything.
//
// Dynamic `import()` is held to the same lists (no-restricted-imports only sees static imports).
// Formatting is prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Packages that talk to a cloud or chat API: only adapters (and the local stack and tests) load them. */
const SDK = '^(@google-cloud/|@google/|@kubernetes/|@slack/|@huggingface/|google-auth-library$|google-gax$|firebase-)';
/** Of those, the ones whose object shapes pure code may name as types (erased at compile time). */
const TYPE_ONLY_OK = '^(@kubernetes/client-node|@slack/types)$';

/** Everything except what `allowed` (regex sources, anchored) matches. */
const onlyRegex = (allowed) => `^(?!(${allowed.join('|')}))`;

/**
 * One layer's import rule: `allowed` is the allowlist (regex sources matched against the specifier
 * as written); `typeOnly` may additionally be imported with `import type`.
 */
function layer(name, allowed, message, typeOnly = TYPE_ONLY_OK) {
  const forbidden = onlyRegex([...allowed, typeOnly.replace(/^\^/, '')]);
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          { regex: forbidden, message: `${name} ${message}` },
          { regex: typeOnly, allowTypeImports: true, message: `${name} may use these packages' types only: write \`import type\`.` },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      dynamicImport(forbidden, `${name} ${message}`),
      dynamicImport(typeOnly, `${name} may not load this package at run time.`),
    ],
  };
}

/** A no-restricted-syntax entry that refuses `import('<specifier matching regex>')` (esquery regexes cannot contain '/': \x2F). */
const dynamicImport = (regex, message) => ({ selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`, message });

const ADAPTERS_NEVER = '^\\.\\./(app|cli)/|/functions/|/infra/|/test/|^\\.\\./config\\.ts$';
const ADAPTERS_MESSAGE = 'shared/adapters implement ports: they never import app, cli, functions or settings (the wiring passes what they need).';
const WIRING_SDK_MESSAGE = 'wiring (shared/cli, shared/config.ts) builds adapters; only shared/adapters import SDKs.';
/** Entry points (functions/, shared/cli) take adapters from the composition root, never build them. */
const NO_ADAPTERS = '(^|/)adapters/';
const NO_ADAPTERS_MESSAGE =
  'entry points (functions/, shared/cli) get their deps from shared/composition, which builds the adapters; they never import shared/adapters.';

/** Bare built-in names (`fs`, `path`): ferry always writes `node:fs`, which the layer rules rely on. */
const bareBuiltins = builtinModules.filter((m) => !m.startsWith('_') && !m.startsWith('node:'));

export default defineConfig(
  { ignores: ['node_modules/', 'dist/', '.ferry/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { console: 'readonly', process: 'readonly' } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-restricted-imports': ['error', { paths: bareBuiltins.map((name) => ({ name, message: `write 'node:${name}'` })) }],
      // `_`-prefixed names are deliberate: destructuring a field away (`{ a: _a, ...rest }`), unused callback args.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and benchmarks walk untyped Kubernetes/JSON objects (`(hpa.spec as any).metrics[0]…`); a
    // wrong path fails the assertion, so `any` there costs nothing that a type would catch.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },

  // ---- the layers (later blocks for the same file replace these two rules, so each block is complete)
  {
    files: ['shared/domain/**'],
    rules: layer(
      'shared/domain',
      ['\\./', 'zod$', 'node:crypto$', 're2js$'],
      'imports only shared/domain, zod, node:crypto and re2js (pure code: no I/O, no SDK, no clock).',
    ),
  },
  { files: ['shared/ports/**'], rules: layer('shared/ports', ['\\./', '\\.\\./domain/', 'zod$'], 'imports only shared/ports and shared/domain.') },
  {
    files: ['shared/app/**'],
    rules: layer(
      'shared/app',
      ['\\./', '\\.\\./domain/', '\\.\\./ports/', 'zod$', 'node:crypto$', 'node:timers/promises$'],
      'imports only shared/app, shared/ports and shared/domain (I/O comes in through a port; SDKs only in shared/adapters).',
    ),
  },
  {
    files: ['shared/adapters/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: ADAPTERS_NEVER,
              message: ADAPTERS_MESSAGE,
            },
          ],
        },
      ],
      'no-restricted-syntax': ['error', dynamicImport(ADAPTERS_NEVER, ADAPTERS_MESSAGE)],
    },
  },
  {
    files: ['shared/composition/**'],
    rules: layer(
      'shared/composition',
      ['\\./', '\\.\\./(adapters|app|ports|domain)/', '\\.\\./config\\.ts$', 'node:'],
      'imports only shared/adapters, app, ports, domain, shared/config.ts and node: built-ins (SDKs as types only: adapters load them).',
      SDK,
    ),
  },
  {
    files: ['shared/cli/**', 'shared/config.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: SDK, message: WIRING_SDK_MESSAGE, allowTypeImports: true },
            { regex: '/functions/', message: 'the CLI does not import Cloud Function entry points.' },
            { regex: NO_ADAPTERS, message: NO_ADAPTERS_MESSAGE },
          ],
        },
      ],
      'no-restricted-syntax': ['error', dynamicImport(SDK, WIRING_SDK_MESSAGE), dynamicImport(NO_ADAPTERS, NO_ADAPTERS_MESSAGE)],
    },
  },
  {
    files: ['functions/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `(?!^@google-cloud/functions-framework$)${SDK}`,
              message: 'functions wire adapters; only shared/adapters import SDKs.',
              allowTypeImports: true,
            },
            { regex: '/cli/', message: 'functions do not import the CLI.' },
            { regex: NO_ADAPTERS, message: NO_ADAPTERS_MESSAGE },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        dynamicImport(NO_ADAPTERS, NO_ADAPTERS_MESSAGE),
        dynamicImport(`(?!^@google-cloud/functions-framework$)${SDK}`, 'functions wire adapters; only shared/adapters import SDKs.'),
      ],
    },
  },
);
