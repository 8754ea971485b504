/**
 * Lists of IP networks an operator names in a setting (`10.0.0.0/8, 192.168.1.7`), and whether an
 * address is in one of them. An IPv4 address in IPv6 form (`::ffff:10.1.2.3`, how a dual-stack
 * socket reports IPv4 peers) is matched as the IPv4 address it is. Parsing: ipaddr.js.
 */
import ipaddr from 'ipaddr.js';

export interface IpNetwork {
  /** canonical text, e.g. `10.0.0.0/8` */
  readonly text: string;
  readonly range: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

export type ParsedNetworks = { kind: 'ok'; networks: IpNetwork[] } | { kind: 'err'; message: string };

/** Comma- or space-separated CIDRs or single addresses; an empty text is an empty list. */
export function parseNetworks(text: string): ParsedNetworks {
  const networks: IpNetwork[] = [];
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    // ipaddr.js also takes shorthand IPv4 (`10.0.0` is 10.0.0.0): a setting must spell all four parts
    const addressPart = item.split('/')[0]!;
    if (!addressPart.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(addressPart)) {
      return { kind: 'err', message: `'${item}' is not an IP address or CIDR network (e.g. 10.0.0.0/8, fd00::/8, 192.168.1.7)` };
    }
    try {
      if (item.includes('/')) range = ipaddr.parseCIDR(item);
      else {
        const address = ipaddr.parse(item);
        range = [address, address.kind() === 'ipv4' ? 32 : 128];
      }
    } catch {
      return { kind: 'err', message: `'${item}' is not an IP address or CIDR network (e.g. 10.0.0.0/8, fd00::/8, 192.168.1.7)` };
    }
    const [address, bits] = range;
    // the network's own address (10.0.0.0/8, not 10.1.2.3/8), so what the log names is what is matched
    const base = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
    networks.push({ text: `${base.toString()}/${bits}`, range: [base, bits] });
  }
  return { kind: 'ok', networks };
}

/** The network of the list that holds `address` (a peer address as Node reports it), or null. */
export function networkOf(networks: readonly IpNetwork[], address: string | undefined): IpNetwork | null {
  if (!address || !ipaddr.isValid(address)) return null;
  const parsed = ipaddr.process(address);
  for (const network of networks) {
    const [base] = network.range;
    if (base.kind() === parsed.kind() && (parsed as ipaddr.IPv4).match(network.range as [ipaddr.IPv4, number])) return network;
  }
  return null;
}
