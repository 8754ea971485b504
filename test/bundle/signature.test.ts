import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TRUST_FORMAT,
  contentHashOf,
  generateSigningKeyPair,
  parseSignature,
  parseTrustBundle,
  signContentHash,
  trustEntryFor,
  verifyBundleSignature,
  type TrustBundle,
} from '../../src/bundle/index.js';

const hash = contentHashOf(Buffer.from('bundle one'));
const otherHash = contentHashOf(Buffer.from('bundle two'));
const acme = generateSigningKeyPair();
const stranger = generateSigningKeyPair();

function trustOf(...entries: ReturnType<typeof trustEntryFor>[]): TrustBundle {
  const parsed = parseTrustBundle({ format: TRUST_FORMAT, keys: entries });
  assert.equal(parsed.kind, 'ok', parsed.kind === 'err' ? parsed.problems.join('; ') : '');
  return (parsed as { trust: TrustBundle }).trust;
}

const trust = trustOf(trustEntryFor(acme.publicKeyPem, acme.keyId, 'Acme'));

describe('bundle signatures', () => {
  it('accepts a valid signature and names the trusted publisher', () => {
    const verdict = verifyBundleSignature(hash, signContentHash(hash, acme.privateKeyPem, 'Acme'), trust);
    assert.deepEqual(verdict, { kind: 'ok', publisher: 'Acme', keyId: acme.keyId });
  });

  it('refuses an unsigned bundle', () => {
    assert.equal(verifyBundleSignature(hash, undefined, trust).kind === 'err' && (verifyBundleSignature(hash, undefined, trust) as { code: string }).code, 'unsigned');
  });

  it('refuses a signature by a key outside the trust bundle', () => {
    const verdict = verifyBundleSignature(hash, signContentHash(hash, stranger.privateKeyPem, 'Acme'), trust);
    assert.equal(verdict.kind === 'err' && verdict.code, 'unknown-key');
  });

  it('refuses a trusted key used for another publisher', () => {
    const verdict = verifyBundleSignature(hash, signContentHash(hash, acme.privateKeyPem, 'Globex'), trust);
    assert.equal(verdict.kind === 'err' && verdict.code, 'unknown-key');
  });

  it('refuses a tampered signature', () => {
    const signature = signContentHash(hash, acme.privateKeyPem, 'Acme');
    const bytes = Buffer.from(signature.signature_b64, 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 0x01;
    const verdict = verifyBundleSignature(hash, { ...signature, signature_b64: bytes.toString('base64') }, trust);
    assert.equal(verdict.kind === 'err' && verdict.code, 'bad-signature');
    const truncated = verifyBundleSignature(hash, { ...signature, signature_b64: bytes.subarray(0, 32).toString('base64') }, trust);
    assert.equal(truncated.kind === 'err' && truncated.code, 'bad-signature');
  });

  it('refuses a signature made for another bundle, even relabelled with this hash', () => {
    const forOther = signContentHash(otherHash, acme.privateKeyPem, 'Acme');
    const verdict = verifyBundleSignature(hash, forOther, trust);
    assert.equal(verdict.kind === 'err' && verdict.code, 'hash-mismatch');
    // Claiming the right hash does not help: the Ed25519 check is over the real hash.
    const relabelled = verifyBundleSignature(hash, { ...forOther, content_hash: hash }, trust);
    assert.equal(relabelled.kind === 'err' && relabelled.code, 'bad-signature');
  });

  it('a key trusted without a publisher signs for any publisher', () => {
    const open = trustOf(trustEntryFor(acme.publicKeyPem, acme.keyId));
    const verdict = verifyBundleSignature(hash, signContentHash(hash, acme.privateKeyPem, 'Globex'), open);
    assert.deepEqual(verdict, { kind: 'ok', publisher: 'Globex', keyId: acme.keyId });
  });

  it('round-trips the signature file and rejects malformed ones', () => {
    const signature = signContentHash(hash, acme.privateKeyPem, 'Acme');
    assert.deepEqual(parseSignature(JSON.stringify(signature)), { kind: 'ok', signature });
    assert.equal(parseSignature('{').kind, 'err');
    assert.equal(parseSignature(JSON.stringify({ ...signature, algorithm: 'rsa' })).kind, 'err');
  });

  it('refuses trust bundles whose key ids do not match their keys', () => {
    const parsed = parseTrustBundle({ format: TRUST_FORMAT, keys: [trustEntryFor(acme.publicKeyPem, stranger.keyId, 'Acme')] });
    assert.equal(parsed.kind, 'err');
    assert.match(parsed.kind === 'err' ? (parsed.problems[0] ?? '') : '', /key_id/);
  });
});
