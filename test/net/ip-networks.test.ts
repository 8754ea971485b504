/** The network lists of RUNNER_TOKENLESS_NETWORKS (src/net/ip-networks.ts): parsing and matching peer addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkOf, parseNetworks } from '../../src/net/ip-networks.js';

function networks(text: string) {
  const parsed = parseNetworks(text);
  assert.equal(parsed.kind, 'ok', parsed.kind === 'err' ? parsed.message : '');
  return parsed.kind === 'ok' ? parsed.networks : [];
}

test('CIDRs and single addresses, comma- or space-separated, named by their network address', () => {
  assert.deepEqual(
    networks('10.1.2.3/8,  fd00::1/8 192.168.1.7 ::1').map((n) => n.text),
    ['10.0.0.0/8', 'fd00::/8', '192.168.1.7/32', '::1/128'],
  );
  assert.deepEqual(networks(''), []);
  for (const bad of ['10.0.0.0/33', '300.1.1.1', 'example.com', '10.0.0.0/x', '10.0.0', '0x0a.0.0.1']) assert.equal(parseNetworks(bad).kind, 'err', bad);
});

test('a peer matches the network that holds it; IPv4 in IPv6 form is matched as IPv4; anything else matches nothing', () => {
  const list = networks('10.0.0.0/8, fd00::/8');
  assert.equal(networkOf(list, '10.200.3.4')?.text, '10.0.0.0/8');
  assert.equal(networkOf(list, '::ffff:10.200.3.4')?.text, '10.0.0.0/8');
  assert.equal(networkOf(list, 'fd12::5')?.text, 'fd00::/8');
  assert.equal(networkOf(list, '11.0.0.1'), null);
  assert.equal(networkOf(list, '::ffff:11.0.0.1'), null);
  assert.equal(networkOf(list, 'fe80::1'), null);
  assert.equal(networkOf(list, undefined), null);
  assert.equal(networkOf(list, 'not-an-address'), null);
  assert.equal(networkOf([], '10.0.0.1'), null);
});
