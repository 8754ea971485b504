/**
 * A `cap:secrets.get` whose `get` never answers until it is released — a capability bug or a
 * backend that hangs, as the engine sees it. Granted by default; after `release()` it answers
 * `ok('value')`.
 */
import { defineCapability, err, ok, type Capability, type HostResult } from '../../src/capabilities/capability.js';

export function hangingSecrets(): { capability: Capability<null, null>; release(): void } {
  let hang = true;
  const capability = defineCapability<null, null>({
    name: 'cap:secrets.get',
    grantedByDefault: true,
    configure: () => null,
    prepare: () => null,
    interfaces: [
      {
        name: 'alga:extension/secrets',
        functions: { get: () => (hang ? new Promise<HostResult>(() => {}) : ok('value')) },
        denied: { get: err('denied') },
      },
    ],
  });
  return { capability, release: () => (hang = false) };
}
