/**
 * With RUNNER_REQUIRE_SIGNATURES=1 the admin upload accepts a bundle only with a signature that
 * verifies against RUNNER_TRUST_FILE for the manifest's publisher, end to end:
 * keys made by `alga-runner keys new`, the bundle packed by `pack`, signed by `sign`, uploaded by
 * `publish`; every bad case refused with its reason and nothing registered. A bare component, which
 * cannot carry a signature, is refused whatever it is sent with.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contentHashOf, generateSigningKeyPair, signContentHash, type BundleSignature, type ContentHash, type TrustFile } from '../../src/bundle/index.js';
import { admin, exampleBytes, startTestService, type ErrorBody, type Registered, type TestService } from '../service/harness.js';
import { cli, packDemo, type PackedDemo } from './demo-bundle.js';

let dir: string;
let svc: TestService;
let demo: PackedDemo;
/** the publisher's key (trusted for "Example", the demo's publisher) */
let exampleKeyPem: string;
/** a key the operator trusts, but for publisher "Other" */
let otherKeyPem: string;

async function newKey(name: string, publisher: string): Promise<{ pem: string; trust: TrustFile }> {
  const out = join(dir, name);
  const made = await cli(['keys', 'new', '--out', out, '--publisher', publisher]);
  assert.equal(made.code, 0, made.stderr);
  return { pem: await readFile(join(out, 'signing-key.pem'), 'utf8'), trust: JSON.parse(await readFile(join(out, 'trust.json'), 'utf8')) as TrustFile };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signatures-test-'));
  const [example, other, packed] = await Promise.all([newKey('example', 'Example'), newKey('other', 'Other'), packDemo()]);
  exampleKeyPem = example.pem;
  otherKeyPem = other.pem;
  demo = packed;
  const trustFile = join(dir, 'trust.json');
  await writeFile(trustFile, JSON.stringify({ format: example.trust.format, keys: [...example.trust.keys, ...other.trust.keys] }));
  svc = await startTestService({ examples: ['demo'], env: { RUNNER_REQUIRE_SIGNATURES: '1', RUNNER_TRUST_FILE: trustFile } });
});
after(async () => {
  await Promise.all([svc?.close(), demo?.cleanup()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const header = (signature: BundleSignature | string) => Buffer.from(typeof signature === 'string' ? signature : JSON.stringify(signature)).toString('base64');

async function registeredHashes(): Promise<string[]> {
  const listed = await admin<{ extensions: { versions: { content_hash: string }[] }[] }>(svc, 'GET', '/admin/v1/extensions');
  return listed.json.extensions.flatMap((e) => e.versions.map((v) => v.content_hash));
}

describe('RUNNER_REQUIRE_SIGNATURES=1', () => {
  const refusals: [string, () => Record<string, string>, string][] = [
    ['an unsigned bundle', () => ({}), 'unsigned'],
    ['a malformed signature header', () => ({ 'x-alga-bundle-signature': header('{"format": "nope"}') }), 'malformed'],
    [
      'a tampered signature',
      () => {
        const signature = signContentHash(demo.contentHash as ContentHash, exampleKeyPem, 'Example');
        const bytes = Buffer.from(signature.signature_b64, 'base64');
        bytes[10]! ^= 0x01;
        return { 'x-alga-bundle-signature': header({ ...signature, signature_b64: bytes.toString('base64') }) };
      },
      'bad-signature',
    ],
    [
      'a signature by an unknown key',
      () => ({ 'x-alga-bundle-signature': header(signContentHash(demo.contentHash as ContentHash, generateSigningKeyPair().privateKeyPem, 'Example')) }),
      'unknown-key',
    ],
    ['a valid signature for another bundle', () => ({ 'x-alga-bundle-signature': header(signContentHash(contentHashOf(Buffer.from('another bundle')), exampleKeyPem, 'Example')) }), 'hash-mismatch'],
    [
      'a valid signature for another hash relabelled as this one',
      () => {
        const signature = signContentHash(contentHashOf(Buffer.from('another bundle')), exampleKeyPem, 'Example');
        return { 'x-alga-bundle-signature': header({ ...signature, content_hash: demo.contentHash as ContentHash }) };
      },
      'bad-signature',
    ],
    ['a signature by a key trusted for another publisher', () => ({ 'x-alga-bundle-signature': header(signContentHash(demo.contentHash as ContentHash, otherKeyPem, 'Other')) }), 'publisher-mismatch'],
    ["that key claiming the manifest's publisher", () => ({ 'x-alga-bundle-signature': header(signContentHash(demo.contentHash as ContentHash, otherKeyPem, 'Example')) }), 'unknown-key'],
  ];
  for (const [label, headers, reason] of refusals) {
    test(`refuses ${label}: 400 signature_required (${reason}), nothing registered`, async () => {
      const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions', new Uint8Array(demo.bytes), { 'content-type': 'application/zstd', ...headers() });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error.code, 'signature_required');
      assert.equal(r.json.error.reason, reason, r.json.error.message);
      assert.ok(!(await registeredHashes()).includes(demo.contentHash));
    });
  }

  const bareRefusals: [string, () => Record<string, string>][] = [
    ['a bare component', () => ({})],
    [
      'a bare component sent with a valid signature of its own bytes by a trusted key',
      () => ({ 'x-alga-bundle-signature': header(signContentHash(contentHashOf(exampleBytes('demo')), exampleKeyPem, 'Example')) }),
    ],
  ];
  for (const [label, headers] of bareRefusals) {
    test(`refuses ${label}: 400 signature_required (bare-component), saying to upload a signed bundle; nothing registered`, async () => {
      const query = new URLSearchParams({ name: 'bare-demo', version: '1.0.0', publisher: 'Example', capabilities: 'cap:storage.kv' });
      const r = await admin<ErrorBody>(svc, 'POST', `/admin/v1/extensions?${query}`, new Uint8Array(exampleBytes('demo')), headers());
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error.code, 'signature_required');
      assert.equal(r.json.error.reason, 'bare-component');
      assert.match(r.json.error.message, /signed bundle/);
      const listed = await admin<{ extensions: { name: string }[] }>(svc, 'GET', '/admin/v1/extensions');
      assert.ok(!listed.json.extensions.some((e) => e.name === 'bare-demo'), 'nothing registered');
      assert.ok(!(await registeredHashes()).includes(contentHashOf(exampleBytes('demo'))));
    });
  }

  test('accepts the bundle signed by `alga-runner sign` and uploaded by `alga-runner publish`', async () => {
    const signed = await cli(['sign', demo.bundlePath, '--key', join(dir, 'example', 'signing-key.pem')]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.stdout.trim(), demo.contentHash);
    const published = await cli(['publish', demo.bundlePath, '--url', svc.url, '--token', svc.adminToken]);
    assert.equal(published.code, 0, published.stderr);
    const answer = JSON.parse(published.stdout) as Registered;
    assert.equal(answer.content_hash, demo.contentHash);
    assert.deepEqual(await registeredHashes(), [demo.contentHash]);
  });
});
