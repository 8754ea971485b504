/**
 * Effective grants:
 *   (install grants ∩ manifest capabilities) ∪ defaults, then narrowed by a caller's `providers`.
 * Defaults (`cap:context.read`, `cap:log.emit`, `cap:user.read`) are granted as in Alga; a caller's
 * list can only take away, never add.
 */
import type { CapabilityName } from './capability.js';

export const DEFAULT_GRANTS: readonly CapabilityName[] = ['cap:context.read', 'cap:log.emit', 'cap:user.read'];

export interface GrantInputs {
  /** what the install allows (omitted at install time = what the manifest declares) */
  install: readonly string[];
  /** what the extension's manifest declares */
  manifest: readonly string[];
  /** a caller's narrowing list, when given */
  providers?: readonly string[] | undefined;
}

export function effectiveGrants({ install, manifest, providers }: GrantInputs): ReadonlySet<CapabilityName> {
  const declared = new Set(manifest);
  const granted = new Set<CapabilityName>(DEFAULT_GRANTS);
  for (const cap of install) if (declared.has(cap) && cap.startsWith('cap:')) granted.add(cap as CapabilityName);
  if (!providers) return granted;
  const allowed = new Set(providers);
  return new Set([...granted].filter((cap) => allowed.has(cap)));
}
