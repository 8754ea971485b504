import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, decideAddress } from '../../src/net/address-policy.js';
import type { AddressCategory } from '../../src/net/address-policy.js';

const table: ReadonlyArray<[address: string, category: AddressCategory, range: RegExp]> = [
  // public
  ['93.184.215.14', 'public', /^public$/],
  ['8.8.8.8', 'public', /^public$/],
  ['2606:4700:4700::1111', 'public', /^public$/],
  // loopback, both families, and every IPv6 wrapper of an IPv4 loopback
  ['127.0.0.1', 'private', /^loopback$/],
  ['127.255.255.254', 'private', /^loopback$/],
  ['::1', 'private', /^loopback$/],
  ['::ffff:127.0.0.1', 'private', /^loopback \(IPv4-mapped\)$/],
  ['::ffff:7f00:1', 'private', /^loopback \(IPv4-mapped\)$/],
  ['::7f00:1', 'private', /^loopback \(IPv4-compatible\)$/],
  // ipaddr.js reads the dotted spelling ::a.b.c.d as IPv4-mapped; the judgement is the same IPv4
  ['::127.0.0.1', 'private', /^loopback \(IPv4-(mapped|compatible)\)$/],
  ['::ffff:0:127.0.0.1', 'private', /^loopback \(IPv4-translated\)$/],
  // RFC 1918, CGNAT, link-local, unique-local
  ['10.0.0.1', 'private', /^private$/],
  ['10.255.255.255', 'private', /^private$/],
  ['172.16.0.1', 'private', /^private$/],
  ['172.31.255.255', 'private', /^private$/],
  ['172.32.0.1', 'public', /^public$/],
  ['192.168.1.1', 'private', /^private$/],
  ['100.64.0.1', 'private', /^carrier-grade NAT$/],
  ['100.127.255.255', 'private', /^carrier-grade NAT$/],
  ['100.128.0.1', 'public', /^public$/],
  ['169.254.1.1', 'private', /^link-local$/],
  ['fe80::1', 'private', /^link-local$/],
  ['fe80::1%eth0', 'private', /^link-local$/],
  ['fc00::1', 'private', /^unique-local$/],
  ['fd12:3456::1', 'private', /^unique-local$/],
  ['::ffff:10.0.0.1', 'private', /^private \(IPv4-mapped\)$/],
  // NAT64 and 6to4 are judged by the IPv4 they carry
  ['64:ff9b::a00:1', 'private', /^private \(NAT64\)$/],
  ['64:ff9b::808:808', 'public', /^public \(NAT64\)$/],
  ['64:ff9b:1::1', 'private', /^local-use NAT64$/],
  ['2002:c0a8:101::1', 'private', /^private \(6to4\)$/],
  ['2002:7f00:1::1', 'private', /^loopback \(6to4\)$/],
  ['2002:808:808::1', 'public', /^public \(6to4\)$/],
  // never allowed
  ['169.254.169.254', 'forbidden', /^cloud metadata$/],
  ['::ffff:169.254.169.254', 'forbidden', /^cloud metadata \(IPv4-mapped\)$/],
  ['fd00:ec2::254', 'forbidden', /^cloud metadata$/],
  ['100.100.100.200', 'forbidden', /^cloud metadata$/],
  ['0.0.0.0', 'forbidden', /^unspecified$/],
  ['0.1.2.3', 'forbidden', /^unspecified$/],
  ['::', 'forbidden', /^unspecified$/],
  ['224.0.0.1', 'forbidden', /^multicast$/],
  ['239.255.255.250', 'forbidden', /^multicast$/],
  ['ff02::1', 'forbidden', /^multicast$/],
  ['255.255.255.255', 'forbidden', /^broadcast$/],
  ['192.0.2.1', 'forbidden', /^reserved$/],
  ['198.18.0.1', 'forbidden', /^reserved$/],
  ['240.0.0.1', 'forbidden', /^reserved$/],
  ['2001:db8::1', 'forbidden', /^reserved$/],
  ['2001:0::1', 'forbidden', /^teredo$/],
  ['4000::1', 'forbidden', /^not global unicast$/],
  // non-canonical or non-address text is never judged as an address
  ['127.1', 'forbidden', /^invalid$/],
  ['2130706433', 'forbidden', /^invalid$/],
  ['0x7f.0.0.1', 'forbidden', /^invalid$/],
  ['localhost', 'forbidden', /^invalid$/],
];

describe('classifyAddress', () => {
  for (const [address, category, range] of table) {
    it(`${address} → ${category}`, () => {
      const verdict = classifyAddress(address);
      assert.equal(verdict.category, category, `range was ${verdict.range}`);
      assert.match(verdict.range, range);
    });
  }

  it('accepts bracketed IPv6 as URL hostnames spell it', () => {
    assert.equal(classifyAddress('[::1]').range, 'loopback');
  });
});

describe('decideAddress', () => {
  it('allows public addresses without any opt-in', () => {
    assert.equal(decideAddress('8.8.8.8', { allowPrivate: false }).allowed, true);
  });

  it('refuses private addresses unless private networks are allowed, with a reason that says so', () => {
    const refused = decideAddress('10.1.2.3', { allowPrivate: false });
    assert.equal(refused.allowed, false);
    assert.match(refused.allowed ? '' : refused.reason, /10\.1\.2\.3 is private \(private networks are not enabled\)/);
    assert.equal(decideAddress('10.1.2.3', { allowPrivate: true }).allowed, true);
    assert.equal(decideAddress('::1', { allowPrivate: true }).allowed, true);
  });

  it('refuses forbidden addresses even when private networks are allowed', () => {
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '0.0.0.0', '224.0.0.1', '255.255.255.255']) {
      const decision = decideAddress(address, { allowPrivate: true });
      assert.equal(decision.allowed, false, address);
    }
  });

  it('allows exactly the listed addresses, in canonical form, and nothing next to them', () => {
    const permission = { allowPrivate: false, allowAddresses: new Set(['127.0.0.1']) };
    assert.equal(decideAddress('127.0.0.1', permission).allowed, true);
    assert.equal(decideAddress('127.0.0.2', permission).allowed, false);
    assert.equal(decideAddress('::1', permission).allowed, false);
  });
});
