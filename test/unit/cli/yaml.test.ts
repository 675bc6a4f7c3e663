/** -o yaml: block YAML as kubectl prints it; strings YAML 1.1 or 1.2 would read as anything else are quoted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toYaml, toYamlStream, yamlScalar } from '../../../shared/cli/yaml.ts';

test('objects, lists and nesting as kubectl prints them', () => {
  const value = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'llama', labels: { 'app.kubernetes.io/name': 'vllm' }, annotations: {} },
    spec: {
      replicas: 2,
      paused: false,
      template: {
        spec: { containers: [{ name: 'vllm', args: ['--model=gs://b/models/llama/v1', '--port', '8000'], ports: [{ containerPort: 8000 }] }], tolerations: [] },
      },
    },
    nothing: null,
    skipped: undefined,
    matrix: [[1, 2], []],
  };
  assert.equal(
    toYaml(value),
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: llama',
      '  labels:',
      '    app.kubernetes.io/name: vllm',
      '  annotations: {}',
      'spec:',
      '  replicas: 2',
      '  paused: false',
      '  template:',
      '    spec:',
      '      containers:',
      '      - name: vllm',
      '        args:',
      '        - "--model=gs://b/models/llama/v1"',
      '        - "--port"',
      '        - "8000"',
      '        ports:',
      '        - containerPort: 8000',
      '      tolerations: []',
      'nothing: null',
      'matrix:',
      '- - 1',
      '  - 2',
      '- []',
      '',
    ].join('\n'),
  );
});

test('strings that YAML would read as something else are quoted', () => {
  for (const s of [
    'true',
    'False',
    'yes',
    'no',
    'on',
    'off',
    'y',
    'N',
    'null',
    '~',
    '',
    '1',
    '0.5',
    '1e3',
    '0x1F',
    '2026-06-01',
    '12:30',
    '.inf',
    '-.nan',
    ' lead',
    'trail ',
    'a: b',
    'a #b',
    '#c',
    '- x',
    '[x]',
    '{x}',
    '*a',
    '&a',
    '!t',
    '|',
    '>',
    '%',
    '@x',
    '`x`',
    "it's",
    'say "hi"',
    'two\nlines',
    'tab\there',
  ]) {
    assert.equal(yamlScalar(s), JSON.stringify(s), s);
  }
  for (const s of ['vllm', 'vllm/vllm-openai:v0.11.2', 'nvidia.com/gpu', 'a b c', 'v1', '8b', 'app.kubernetes.io/name', 'gs://bucket/models']) {
    assert.equal(yamlScalar(s), s, s);
  }
  assert.equal(yamlScalar(3), '3');
  assert.equal(yamlScalar(true), 'true');
});

test('a long string that is not plain does not make the emitter backtrack', () => {
  const s = `${'a:'.repeat(5000)} #`;
  const t = Date.now();
  assert.equal(yamlScalar(s), JSON.stringify(s));
  assert.ok(Date.now() - t < 200);
});

test('a stream of documents', () => {
  assert.equal(toYamlStream([{ a: 1 }, { b: [] }]), '---\na: 1\n---\nb: []\n');
  assert.equal(toYaml([]), '[]\n');
  assert.equal(toYaml('x: y'), '"x: y"\n');
});
