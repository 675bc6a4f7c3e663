import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upgradeAutodeployKey } from '../../../shared/adapters/firestore-migrations.ts';

test('upgradeAutodeployKey: the old cluster|namespace|name spelling becomes the targetKey; a targetKey stays; junk is null', () => {
  assert.equal(upgradeAutodeployKey('projects/p-1234/locations/us-central1/clusters/gpu|ml|llama'), 'p-1234.us-central1.gpu~ml~llama');
  assert.equal(upgradeAutodeployKey('local|ns|d'), 'local~ns~d');
  assert.equal(upgradeAutodeployKey('local~ns~d'), 'local~ns~d');
  assert.equal(upgradeAutodeployKey('not-a-cluster|ns|d'), null);
  assert.equal(upgradeAutodeployKey('local|ns'), null);
});
