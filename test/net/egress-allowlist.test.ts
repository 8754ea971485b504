import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EgressAllowlist, egressAllowlistSchema, egressPatternSchema, parseEgressPattern } from '../../src/net/egress-allowlist.js';

function compile(patterns: string[]): EgressAllowlist {
  const result = EgressAllowlist.compile(patterns);
  assert.ok(result.ok, result.ok ? '' : result.errors.join('; '));
  return result.allowlist;
}

const matching: ReadonlyArray<[pattern: string, url: string, allowed: boolean]> = [
  ['https://api.example.com', 'https://api.example.com/v1/x?y=1', true],
  ['https://api.example.com', 'https://api.example.com:443/', true],
  ['https://api.example.com', 'https://API.Example.COM/', true],
  ['https://api.example.com', 'http://api.example.com/', false],
  ['https://api.example.com', 'https://api.example.com:8443/', false],
  ['https://api.example.com', 'https://example.com/', false],
  ['https://api.example.com', 'https://x.api.example.com/', false],
  ['https://api.example.com', 'https://api.example.com.evil.net/', false],
  ['https://api.example.com', 'https://evilapi.example.com/', false],
  ['http://api.example.com:8080', 'http://api.example.com:8080/', true],
  ['http://api.example.com:8080', 'http://api.example.com/', false],
  ['http://api.example.com:80', 'http://api.example.com/', true],
  ['HTTPS://API.EXAMPLE.COM', 'https://api.example.com/', true],
  ['https://*.example.com', 'https://a.example.com/', true],
  ['https://*.example.com', 'https://a.b.example.com/', true],
  ['https://*.example.com', 'https://example.com/', false],
  ['https://*.example.com', 'https://aexample.com/', false],
  ['https://*.example.com', 'https://a.example.com.evil.net/', false],
  ['https://*.example.com', 'http://a.example.com/', false],
  ['https://*.example.com:8443', 'https://a.example.com:8443/', true],
  ['https://*.example.com:8443', 'https://a.example.com/', false],
  ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/', true],
  ['http://127.0.0.1:8080', 'http://2130706433:8080/', true],
  ['http://[::1]:8080', 'http://[0:0:0:0:0:0:0:1]:8080/', true],
  ['https://bücher.example', 'https://xn--bcher-kva.example/', true],
];

describe('EgressAllowlist matching', () => {
  for (const [pattern, url, allowed] of matching) {
    it(`${pattern} ${allowed ? 'allows' : 'refuses'} ${url}`, () => {
      assert.equal(compile([pattern]).allows(new URL(url)), allowed);
    });
  }

  it('allows nothing when empty', () => {
    assert.equal(compile([]).allows(new URL('https://example.com/')), false);
    assert.equal(EgressAllowlist.empty.allows(new URL('http://127.0.0.1/')), false);
  });

  it('never allows a non-http scheme', () => {
    assert.equal(compile(['https://example.com']).allows(new URL('ftp://example.com/')), false);
  });

  it('reports which pattern matched', () => {
    const list = compile(['https://a.example.com', 'https://*.example.com']);
    assert.equal(list.matching(new URL('https://b.example.com/'))?.source, 'https://*.example.com');
  });
});

const invalid: ReadonlyArray<[pattern: string, reason: RegExp]> = [
  ['', /length/],
  ['example.com', /expected scheme:\/\/host/],
  ['ftp://example.com', /scheme must be http or https/],
  ['https://example.com/path', /no path/],
  ['https://example.com/', /no path/],
  ['https://user@example.com', /credentials/],
  ['https://example.com?x=1', /no path, query/],
  ['*', /expected scheme/],
  ['https://*', /wildcard/],
  ['https://*.com', /two labels/],
  ['https://a.*.example.com', /leading "\*\."/],
  ['https://*example.com', /leading "\*\."/],
  ['https://*.127.0.0.1', /IP address/],
  ['https://example.com:99999', /host or port is not valid/],
  ['https://example.com:0', /port 0/],
  ['https://', /host or port is not valid|host is empty/],
];

describe('egress pattern validation', () => {
  for (const [pattern, reason] of invalid) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      const parsed = parseEgressPattern(pattern);
      assert.equal(parsed.ok, false);
      assert.match(parsed.ok ? '' : parsed.reason, reason);
      assert.match(parsed.ok ? '' : parsed.reason, /^invalid egress pattern /);
    });
  }

  it('fails a whole list with every reason', () => {
    const result = EgressAllowlist.compile(['https://ok.example.com', 'nope', 'https://*.com']);
    assert.equal(result.ok, false);
    assert.equal(result.ok ? 0 : result.errors.length, 2);
  });

  it('gives the admin API a zod schema with the same reasons', () => {
    assert.equal(egressPatternSchema.safeParse('https://*.example.com').success, true);
    const bad = egressAllowlistSchema.safeParse(['https://ok.example.com', 'ftp://x.example.com']);
    assert.equal(bad.success, false);
    assert.match(bad.error?.issues[0]?.message ?? '', /scheme must be http or https/);
    assert.deepEqual(bad.error?.issues[0]?.path, [1]);
  });
});
