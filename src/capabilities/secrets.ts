/**
 * `cap:secrets.get` — interface `alga:extension/secrets` (DESIGN.md §3, §4): the install's
 * secrets, decrypted on demand from the store. Serves `get` and `list`, plus the later dialect's
 * `list-keys`. Values never go to a log line: only secret names and error kinds are logged.
 */
import { defineCapability, err, ok, value } from './capability.js';
import type { Capability, CapabilityFunction, HostResult } from './capability.js';
import type { SecretsStore } from '../store/secrets.js';

export const SECRETS_CAPABILITY = 'cap:secrets.get';
export const SECRETS_INTERFACE = 'alga:extension/secrets';

export interface SecretsConfig {
  readonly installId: string;
}

type SecretsFunction = CapabilityFunction<SecretsConfig, null>;

export function createSecretsCapability(secrets: Pick<SecretsStore, 'getSecret' | 'listSecretNames'>): Capability<SecretsConfig, null> {
  const get: SecretsFunction = async ({ args, config, services }): Promise<HostResult> => {
    const name = args[0];
    if (typeof name !== 'string') return err('internal');
    const found = await secrets.getSecret(config.installId, name);
    switch (found.kind) {
      case 'ok':
        return ok(found.value);
      case 'missing':
      case 'expired':
        return err(found.kind);
      case 'undecryptable':
        services.log('error', `secret "${name}" could not be decrypted: RUNNER_SECRETS_KEY differs from the key it was stored with, or the row was altered`);
        return err('internal');
    }
  };
  const list: SecretsFunction = async ({ config }) => value(await secrets.listSecretNames(config.installId));

  return defineCapability<SecretsConfig, null>({
    name: SECRETS_CAPABILITY,
    grantedByDefault: false,
    configure: (install) => ({ installId: install.installId }),
    prepare: () => null,
    interfaces: [
      {
        name: SECRETS_INTERFACE,
        functions: { get, list, listKeys: list },
        denied: { get: err('denied'), list: value([]), listKeys: value([]) },
        onFailure: err('internal'),
      },
    ],
  });
}
