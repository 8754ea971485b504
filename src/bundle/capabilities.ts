/**
 * The capability names a manifest may declare (the interfaces of wit/world.wit, plus the later Alga
 * dialect's scheduler and invoicing). A name outside this list is a manifest error, not a silent no-op.
 */
export const KNOWN_CAPABILITIES = [
  'cap:context.read',
  'cap:secrets.get',
  'cap:http.fetch',
  'cap:storage.kv',
  'cap:log.emit',
  'cap:ui.proxy',
  'cap:user.read',
  'cap:client.read',
  'cap:service.read',
  'cap:scheduler.manage',
  'cap:invoice.manual.create',
] as const;

export type KnownCapability = (typeof KNOWN_CAPABILITIES)[number];

const KNOWN = new Set<string>(KNOWN_CAPABILITIES);

/**
 * `cap:http.fetch` as is; Alga's older samples write `http.fetch` without the prefix, which is
 * accepted and normalised. Anything else → undefined.
 */
export function normaliseCapability(name: string): KnownCapability | undefined {
  const prefixed = name.startsWith('cap:') ? name : `cap:${name}`;
  return KNOWN.has(prefixed) ? (prefixed as KnownCapability) : undefined;
}
