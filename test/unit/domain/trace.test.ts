import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTraceparent, parseCloudTraceContext, traceContextOf, traceLogFields } from '../../../shared/domain/trace.ts';

// The W3C specification's own example: https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers
const W3C = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('traceparent: the W3C example, sampled and not', () => {
  assert.deepEqual(parseTraceparent(W3C), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true });
  assert.deepEqual(parseTraceparent(W3C.replace(/01$/, '00')), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: false });
  // only bit 0 is "sampled"; other flag bits are ignored
  assert.equal(parseTraceparent(W3C.replace(/01$/, '03'))?.sampled, true);
  assert.equal(parseTraceparent(W3C.replace(/01$/, '02'))?.sampled, false);
});

test('traceparent: a later version may append fields; version 00 may not; ff is invalid', () => {
  assert.equal(parseTraceparent(`01${W3C.slice(2)}-what-comes-next`)?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(parseTraceparent(`${W3C}-extra`), undefined);
  assert.equal(parseTraceparent(`ff${W3C.slice(2)}`), undefined);
});

test('traceparent: malformed values are ignored, never thrown', () => {
  for (const bad of [
    undefined,
    '',
    42,
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // all-zero trace id
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // all-zero parent id
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // uppercase is not allowed
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // 31 digits
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', // no flags
    '0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  ]) {
    assert.equal(parseTraceparent(bad), undefined, JSON.stringify(bad));
  }
});

test('X-Cloud-Trace-Context: decimal span id → 16 hex digits; o= gives the sampling decision', () => {
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000/1;o=1'), {
    traceId: '105445aa7843bc8bf206b12000100000',
    spanId: '0000000000000001',
    sampled: true,
  });
  assert.deepEqual(parseCloudTraceContext('105445AA7843BC8BF206B12000100000/123456789;o=0'), {
    traceId: '105445aa7843bc8bf206b12000100000',
    spanId: '00000000075bcd15',
    sampled: false,
  });
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000/18446744073709551615'), {
    traceId: '105445aa7843bc8bf206b12000100000',
    spanId: 'ffffffffffffffff',
  });
  // forms Google's own parsers accept: no span, empty span, empty options
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000'), { traceId: '105445aa7843bc8bf206b12000100000' });
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000/;o='), { traceId: '105445aa7843bc8bf206b12000100000' });
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000;o=1'), { traceId: '105445aa7843bc8bf206b12000100000', sampled: true });
  // a span id beyond 64 bits or zero names no span; the trace still counts
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000/18446744073709551616;o=1'), {
    traceId: '105445aa7843bc8bf206b12000100000',
    sampled: true,
  });
  assert.deepEqual(parseCloudTraceContext('105445aa7843bc8bf206b12000100000/0'), { traceId: '105445aa7843bc8bf206b12000100000' });
  for (const bad of [undefined, '', 'abc/1;o=1', '00000000000000000000000000000000/1', '105445aa7843bc8bf206b12000100000/12a;o=1']) {
    assert.equal(parseCloudTraceContext(bad), undefined, JSON.stringify(bad));
  }
});

test('traceparent wins over X-Cloud-Trace-Context; the legacy header is the fallback', () => {
  const legacy = '105445aa7843bc8bf206b12000100000/1;o=0';
  assert.equal(traceContextOf({ traceparent: W3C, cloudTraceContext: legacy })?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(traceContextOf({ traceparent: 'garbage', cloudTraceContext: legacy })?.traceId, '105445aa7843bc8bf206b12000100000');
  assert.equal(traceContextOf({}), undefined);
});

test('log fields: projects/<p>/traces/<id>, spanId and trace_sampled; none without a context or project', () => {
  assert.deepEqual(traceLogFields(parseTraceparent(W3C), 'ferry-prod'), {
    'logging.googleapis.com/trace': 'projects/ferry-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736',
    'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    'logging.googleapis.com/trace_sampled': true,
  });
  assert.deepEqual(traceLogFields(parseCloudTraceContext('105445aa7843bc8bf206b12000100000'), 'p-1'), {
    'logging.googleapis.com/trace': 'projects/p-1/traces/105445aa7843bc8bf206b12000100000',
  });
  assert.deepEqual(traceLogFields(undefined, 'ferry-prod'), {});
  assert.deepEqual(traceLogFields(parseTraceparent(W3C), undefined), {});
});
