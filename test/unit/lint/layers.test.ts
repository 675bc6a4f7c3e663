/**
 * The layer rules in eslint.config.js (README "How it works"): each case is a synthetic file placed
 * in a layer by its path and linted with the repository's own config, so a rule that stops firing
 * (a regex typo, a block order change) fails here rather than letting a break through. Then the
 * real tree must lint clean, as `npm run lint` in CI requires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: repoRoot });

const LAYER_RULES = new Set(['@typescript-eslint/no-restricted-imports', 'no-restricted-imports', 'no-restricted-syntax']);

/** The layer-rule messages for `code` as if it were the file at `filePath`. */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  assert.ok(result, 'ESLint returned no result');
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `parse error in the synthetic ${filePath}`);
  return result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

// [file, code, the message must contain (undefined: no layer error)]
const CASES: Array<[string, string, string | undefined]> = [
  // domain: nothing but domain, zod, node:crypto; SDK object shapes as types only
  ['shared/domain/x.ts', "import { Storage } from '@google-cloud/storage';\nexport const s = Storage;\n", 'shared/domain imports only'],
  ['shared/domain/x.ts', "import type { ObjectStore } from '../ports/object-store.ts';\nexport type S = ObjectStore;\n", 'shared/domain imports only'],
  ['shared/domain/x.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n", 'shared/domain imports only'],
  ['shared/domain/x.ts', "export const load = () => import('@google-cloud/firestore');\n", 'shared/domain imports only'],
  ['shared/domain/x.ts', "import { KubeConfig } from '@kubernetes/client-node';\nexport const k = KubeConfig;\n", 'types only'],
  ['shared/domain/x.ts', "export const load = () => import('@kubernetes/client-node');\n", 'may not load this package'],
  ['shared/domain/x.ts', "import type { V1Pod } from '@kubernetes/client-node';\nexport type P = V1Pod;\n", undefined],
  [
    'shared/domain/x.ts',
    "import { createHash } from 'node:crypto';\nimport { z } from 'zod';\nimport { FerryError } from './errors.ts';\nexport const a = [createHash, z, FerryError];\n",
    undefined,
  ],
  // ports: ports and domain
  ['shared/ports/x.ts', "import type { CacheDeps } from '../app/caches.ts';\nexport type D = CacheDeps;\n", 'shared/ports imports only'],
  ['shared/ports/x.ts', "import type { ObjectInfo } from '../domain/object-info.ts';\nexport type O = ObjectInfo;\n", undefined],
  // app: app, ports, domain — no adapter, no file I/O, no SDK
  ['shared/app/x.ts', "import { gcsUploader } from '../adapters/gcs-upload.ts';\nexport const u = gcsUploader;\n", 'shared/app imports only'],
  ['shared/app/x.ts', "import type { Uploader } from '../adapters/gcs-upload.ts';\nexport type U = Uploader;\n", 'shared/app imports only'],
  ['shared/app/x.ts', "import { stat } from 'node:fs/promises';\nexport const s = stat;\n", 'shared/app imports only'],
  ['shared/app/x.ts', "export const load = () => import('../adapters/firestore.ts');\n", 'shared/app imports only'],
  ['shared/app/x.ts', "import { PubSub } from '@google-cloud/pubsub';\nexport const p = PubSub;\n", 'shared/app imports only'],
  [
    'shared/app/x.ts',
    "import type { Uploader } from '../ports/uploader.ts';\nimport { CONFIG_FILE } from '../domain/upload.ts';\nimport { ensureCaches } from './caches.ts';\nexport type U = Uploader;\nexport const a = [CONFIG_FILE, ensureCaches];\n",
    undefined,
  ],
  // adapters: SDKs yes, app / cli / settings no
  ['shared/adapters/x.ts', "import type { CacheDeps } from '../app/caches.ts';\nexport type D = CacheDeps;\n", 'shared/adapters implement ports'],
  ['shared/adapters/x.ts', "import { loadConfig } from '../config.ts';\nexport const l = loadConfig;\n", 'shared/adapters implement ports'],
  ['shared/adapters/x.ts', "export const load = () => import('../app/rollouts.ts');\n", 'shared/adapters implement ports'],
  ['shared/adapters/x.ts', "export const load = () => import('./storage-control.ts');\n", undefined],
  [
    'shared/adapters/x.ts',
    "import { Storage } from '@google-cloud/storage';\nimport { GoogleAuth } from 'google-auth-library';\nexport const a = [Storage, GoogleAuth];\n",
    undefined,
  ],
  // wiring: every shared layer, but no SDK (functions: the Functions Framework only)
  ['shared/cli/commands/x.ts', "import { Firestore } from '@google-cloud/firestore';\nexport const f = Firestore;\n", 'only shared/adapters import SDKs'],
  ['shared/cli/commands/x.ts', "export const load = () => import('@google-cloud/firestore');\n", 'only shared/adapters import SDKs'],
  // entry points take their deps from the composition root: no adapter, statically or dynamically
  [
    'shared/cli/commands/x.ts',
    "import { firestoreClient } from '../../adapters/firestore.ts';\nexport const f = firestoreClient;\n",
    'never import shared/adapters',
  ],
  ['shared/cli/x.ts', "export const load = () => import('../adapters/firestore.ts');\n", 'never import shared/adapters'],
  ['functions/x.ts', "import { jsonLogger } from '../shared/adapters/logging.ts';\nexport const l = jsonLogger;\n", 'never import shared/adapters'],
  ['functions/x.ts', "export const load = () => import('../shared/adapters/firestore.ts');\n", 'never import shared/adapters'],
  ['shared/cli/commands/x.ts', "import { firestoreStores } from '../../composition/cli.ts';\nexport const f = firestoreStores;\n", undefined],
  ['functions/x.ts', "export const load = () => import('../shared/composition/functions.ts');\n", undefined],
  // composition root: adapters, app, ports, domain, config; SDKs as types only
  [
    'shared/composition/x.ts',
    "import { firestoreClient } from '../adapters/firestore.ts';\nimport type { UploadDeps } from '../app/checkpoint-upload.ts';\nimport type { Settings } from '../config.ts';\nimport type { Firestore } from '@google-cloud/firestore';\nexport const f = firestoreClient;\nexport type U = [UploadDeps, Settings, Firestore];\n",
    undefined,
  ],
  ['shared/composition/x.ts', "import { Firestore } from '@google-cloud/firestore';\nexport const f = Firestore;\n", 'types only'],
  ['shared/composition/x.ts', "export const load = () => import('@google-cloud/storage');\n", 'may not load this package'],
  ['shared/composition/x.ts', "import { main } from '../cli/main.ts';\nexport const m = main;\n", 'shared/composition imports only'],
  ['shared/composition/x.ts', "import { logger } from '../../functions/edge.ts';\nexport const l = logger;\n", 'shared/composition imports only'],
  ['functions/x.ts', "import { Storage } from '@google-cloud/storage';\nexport const s = Storage;\n", 'only shared/adapters import SDKs'],
  ['functions/x.ts', "import * as ff from '@google-cloud/functions-framework';\nexport const f = ff;\n", undefined],
  // everywhere: built-ins by their node: name
  ['test/unit/x.test.ts', "import { readFileSync } from 'fs';\nexport const r = readFileSync;\n", "write 'node:fs'"],
];

for (const [file, code, expected] of CASES) {
  const first = code.split('\n').find((l) => l.includes('import'))!;
  test(`${file}: ${first.trim()} → ${expected ?? 'allowed'}`, async () => {
    const errors = await layerErrors(file, code);
    if (expected === undefined) assert.deepEqual(errors, []);
    else
      assert.ok(
        errors.some((m) => m.includes(expected)),
        `expected an error containing ${JSON.stringify(expected)}, got ${JSON.stringify(errors)}`,
      );
  });
}

test('the repository lints clean (no errors, no warnings)', async () => {
  const results = await eslint.lintFiles(['.']);
  const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(repoRoot.length)}:${m.line} ${m.ruleId ?? 'parse'}: ${m.message}`));
  assert.ok(results.length > 100, `only ${results.length} files linted: is the config ignoring the tree?`);
  assert.deepEqual(problems, []);
});
