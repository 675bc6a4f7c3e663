import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  MAX_SLACK_BODY_BYTES,
  SLACK_TIMESTAMP_TOLERANCE_SECONDS,
  checkResponseUrl,
  parseSlashCommandForm,
  slackSignature,
  verifySlackRequest,
} from '../../../shared/domain/slack.ts';

// Slack's worked example (api.slack.com/authentication/verifying-requests-from-slack), verbatim.
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TIMESTAMP = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const DOC_NOW = Number(DOC_TIMESTAMP);

const bytes = (s: string) => new TextEncoder().encode(s);
const verify = (
  over: Partial<{ rawBody: Uint8Array | undefined; timestamp: string | undefined; signature: string | undefined }>,
  now = DOC_NOW,
  secret = DOC_SECRET,
) => verifySlackRequest({ rawBody: bytes(DOC_BODY), timestamp: DOC_TIMESTAMP, signature: DOC_SIGNATURE, ...over }, { secret, nowSeconds: now });

test("Slack's documented example: the signature we compute is the documented one", () => {
  assert.equal(slackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY), DOC_SIGNATURE);
  assert.equal(slackSignature(DOC_SECRET, DOC_TIMESTAMP, bytes(DOC_BODY)), DOC_SIGNATURE);
  // Independently, straight from node:crypto, so the vector pins the framing and not our helper.
  const direct = `v0=${createHmac('sha256', DOC_SECRET).update(`v0:${DOC_TIMESTAMP}:${DOC_BODY}`).digest('hex')}`;
  assert.equal(direct, DOC_SIGNATURE);
});

test("Slack's documented example verifies at its own timestamp and within 5 minutes of it", () => {
  assert.deepEqual(verify({}), { ok: true });
  assert.deepEqual(verify({}, DOC_NOW + SLACK_TIMESTAMP_TOLERANCE_SECONDS), { ok: true });
  assert.deepEqual(verify({}, DOC_NOW - SLACK_TIMESTAMP_TOLERANCE_SECONDS), { ok: true });
  assert.deepEqual(verify({ signature: ` ${DOC_SIGNATURE} ` }), { ok: true }, 'header whitespace is not part of the value');
});

test('stale: more than 5 minutes old (a replay), or more than 5 minutes in the future', () => {
  assert.deepEqual(verify({}, DOC_NOW + SLACK_TIMESTAMP_TOLERANCE_SECONDS + 1), { ok: false, reason: 'STALE' });
  assert.deepEqual(verify({}, DOC_NOW - SLACK_TIMESTAMP_TOLERANCE_SECONDS - 1), { ok: false, reason: 'STALE' });
  assert.deepEqual(verify({}, Math.floor(Date.now() / 1000)), { ok: false, reason: 'STALE' }, 'the 2018 example is stale today');
});

test('forged: signed with another secret', () => {
  assert.deepEqual(verify({}, DOC_NOW, '8f742231b10e8888abcd99yyyzzz85a6'), { ok: false, reason: 'MISMATCH' });
  const forged = slackSignature('not-the-secret-at-all', DOC_TIMESTAMP, DOC_BODY);
  assert.deepEqual(verify({ signature: forged }), { ok: false, reason: 'MISMATCH' });
});

test('tampered: body, timestamp or signature changed after signing', () => {
  assert.deepEqual(verify({ rawBody: bytes(DOC_BODY.replace('user_id=U2CERLKJA', 'user_id=U2CERLKJB')) }), { ok: false, reason: 'MISMATCH' });
  assert.deepEqual(verify({ rawBody: bytes(`${DOC_BODY}&text=deploy`) }), { ok: false, reason: 'MISMATCH' });
  assert.deepEqual(verify({ rawBody: bytes(`${DOC_BODY}\n`) }), { ok: false, reason: 'MISMATCH' }, 'one byte more');
  assert.deepEqual(verify({ timestamp: String(DOC_NOW + 1) }), { ok: false, reason: 'MISMATCH' }, 'the timestamp is signed too');
  const flipped = DOC_SIGNATURE.slice(0, -1) + (DOC_SIGNATURE.endsWith('3') ? '4' : '3');
  assert.deepEqual(verify({ signature: flipped }), { ok: false, reason: 'MISMATCH' });
});

test('unsigned or malformed: missing headers or body, wrong scheme, bad encodings', () => {
  assert.deepEqual(verify({ signature: undefined }), { ok: false, reason: 'MISSING' });
  assert.deepEqual(verify({ timestamp: undefined }), { ok: false, reason: 'MISSING' });
  assert.deepEqual(verify({ rawBody: undefined }), { ok: false, reason: 'MISSING' });
  assert.deepEqual(verify({}, DOC_NOW, ''), { ok: false, reason: 'MISSING' }, 'no secret configured: nothing verifies');
  assert.deepEqual(verify({ signature: DOC_SIGNATURE.replace('v0=', 'v1=') }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ signature: DOC_SIGNATURE.toUpperCase() }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ signature: DOC_SIGNATURE.slice(0, 40) }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ signature: '' }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ timestamp: '1531420618.5' }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ timestamp: '-1' }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ timestamp: '' }), { ok: false, reason: 'MALFORMED' });
  assert.deepEqual(verify({ rawBody: new Uint8Array(MAX_SLACK_BODY_BYTES + 1) }), { ok: false, reason: 'TOO_LARGE' });
});

test("the slash-command form parses from the verified bytes (Slack's example)", () => {
  const r = parseSlashCommandForm(bytes(DOC_BODY));
  assert.ok(r.ok);
  assert.equal(r.payload.user_id, 'U2CERLKJA');
  assert.equal(r.payload.user_name, 'roadrunner');
  assert.equal(r.payload.channel_id, 'G8PSS9T3V');
  assert.equal(r.payload.command, '/webhook-collect');
  assert.equal(r.payload.text, '');
  assert.equal(r.payload.response_url, 'https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN');
  assert.equal(r.payload.team_id, 'T1DC2JH3J');
  const plus = parseSlashCommandForm(bytes(DOC_BODY.replace('text=', 'text=deploy+m%40v1+to+local%2Fns%2Fname')));
  assert.ok(plus.ok);
  assert.equal(plus.payload.text, 'deploy m@v1 to local/ns/name');
});

test('a form without a user or channel, or not UTF-8, does not parse', () => {
  const noUser = parseSlashCommandForm(bytes(DOC_BODY.replace('user_id=U2CERLKJA&', '')));
  assert.equal(noUser.ok, false);
  const badUser = parseSlashCommandForm(bytes(DOC_BODY.replace('user_id=U2CERLKJA', 'user_id=alice')));
  assert.equal(badUser.ok, false);
  assert.equal(parseSlashCommandForm(new Uint8Array([0xff, 0xfe, 0x00])).ok, false);
});

test('response_url: only https://hooks.slack.com, plus 127.0.0.1/localhost when the local flag allows it', () => {
  const prod = { allowLocal: false };
  const local = { allowLocal: true };
  assert.equal(checkResponseUrl('https://hooks.slack.com/commands/T1/2/x', prod).ok, true);
  for (const bad of [
    'http://hooks.slack.com/commands/T1/2/x',
    'https://hooks.slack.com.evil.example/commands',
    'https://evil.example/hooks.slack.com/commands',
    'https://hooks.slack.com:8443/commands/T1',
    'https://user:pw@hooks.slack.com/commands/T1',
    'https://hooks.slack.com/',
    'https://169.254.169.254/computeMetadata/v1/',
    'http://127.0.0.1:8080/reply',
    'file:///etc/passwd',
    'not a url',
  ]) {
    assert.equal(checkResponseUrl(bad, prod).ok, false, bad);
  }
  assert.equal(checkResponseUrl('http://127.0.0.1:8080/reply', local).ok, true);
  assert.equal(checkResponseUrl('http://localhost:8080/reply', local).ok, true);
  assert.equal(checkResponseUrl('http://10.0.0.1:8080/reply', local).ok, false);
  assert.equal(checkResponseUrl('http://127.0.0.1.nip.io/reply', local).ok, false);
});
