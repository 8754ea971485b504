/**
 * `cap:secrets.get` — interface `alga:extension/secrets` (wit/world.wit): the install's
 * secrets, decrypted on demand from the store, and — when the operator allows envelope secrets —
 * the secrets of the request's secret_envelope over them (a name in both: the envelope's value;
 * docs/alga.md, "Secrets"). Serves `get` and `list`, plus the later dialect's
 * `list-keys`. Values never go to a log line: only secret names and error kinds are logged. Over
 * the embedded SQLite store both are answered in the guest's worker (its worker side, below), which
 * then holds the secrets key too — in the worker's JavaScript heap, which guest code cannot read.
 */
import { defineCapability, err, ok, value } from './capability.js';
import type { AnswerOf, Capability, CapabilityFunction } from './capability.js';
import { serve, underDialectNames, type SeedInterfaces } from './dialects.js';
import type { CallLogger, CreateWorkerFunctions, WorkerFunction } from '../contract/index.js';
import type { SecretLookup, SecretsStore } from '../store/secrets.js';
import type { ReadOnlyStore } from '../store/read-only-store.js';

export const SECRETS_CAPABILITY = 'cap:secrets.get';
export const SECRETS_INTERFACE = 'alga:extension/secrets';

export interface SecretsConfig {
  readonly installId: string;
  /** this execution's envelope secrets (InstallView.envelopeSecrets), or null */
  readonly envelope: Readonly<Record<string, string>> | null;
}

/** The envelope's value of a secret, when the envelope has that name. */
function fromEnvelope(config: SecretsConfig, name: string): AnswerOf<Secrets['get']> | null {
  return config.envelope && Object.hasOwn(config.envelope, name) ? ok(config.envelope[name]!) : null;
}

/** The stored names and the envelope's, once each, sorted as the store lists them. */
function withEnvelopeNames(config: SecretsConfig, stored: readonly string[]): string[] {
  if (!config.envelope) return [...stored];
  return [...new Set([...stored, ...Object.keys(config.envelope)])].sort();
}

type Secrets = SeedInterfaces['alga:extension/secrets'];
type SecretsFunction<F extends keyof Secrets> = CapabilityFunction<SecretsConfig, null, Secrets[F]>;

/** The guest's answer to a lookup (shared by the main thread's function and the worker side's). */
function answerGet(found: SecretLookup, name: string, logger: CallLogger): AnswerOf<Secrets['get']> {
  switch (found.kind) {
    case 'ok':
      return ok(found.value);
    case 'missing':
    case 'expired':
      return err(found.kind);
    case 'undecryptable':
      logger.log('error', `secret "${name}" could not be decrypted: RUNNER_SECRETS_KEY differs from the key it was stored with, or the row was altered`);
      return err('internal');
  }
}

/** Worker side (worker-side.ts): get and list through the worker's reads of the SQLite store (which hold the secrets key). */
export const createWorkerFunctions: CreateWorkerFunctions<ReadOnlyStore> = (_init, store) => {
  const secrets = store().secrets;
  const get: WorkerFunction<SecretsConfig> = (call) => {
    const name = call.args[0];
    if (typeof name !== 'string') return err('internal');
    return fromEnvelope(call.config, name) ?? answerGet(secrets.getSecret(call.config.installId, name), name, call);
  };
  const list: WorkerFunction<SecretsConfig> = ({ config }) => value(withEnvelopeNames(config, secrets.listSecretNames(config.installId)));
  const byName = underDialectNames(SECRETS_INTERFACE, { get, list });
  return Object.fromEntries(Object.entries(byName).map(([fn, f]) => [`${SECRETS_INTERFACE}#${fn}`, f]));
};

/**
 * `inWorker`: workers may read the store (the registry's workerStore) — then get and list are
 * answered in the worker (delivery `in-worker`); without it they are round trips.
 */
export function createSecretsCapability(secrets: Pick<SecretsStore, 'getSecret' | 'listSecretNames'>, inWorker = false): Capability<SecretsConfig, null> {
  const get: SecretsFunction<'get'> = async ({ args, config, services }) => {
    const name = args[0];
    if (typeof name !== 'string') return err('internal');
    return fromEnvelope(config, name) ?? answerGet(await secrets.getSecret(config.installId, name), name, services);
  };
  const list: SecretsFunction<'list'> = async ({ config }) => value(withEnvelopeNames(config, await secrets.listSecretNames(config.installId)));

  return defineCapability<SecretsConfig, null>({
    name: SECRETS_CAPABILITY,
    grantedByDefault: false,
    configure: (install) => ({ installId: install.installId, envelope: install.envelopeSecrets ?? null }),
    prepare: () => null,
    ...(inWorker ? { worker: { module: import.meta.url, init: null } } : {}),
    interfaces: [
      serve(SECRETS_INTERFACE, {
        functions: { get, list },
        denied: { get: err('denied'), list: value([]) },
        onFailure: err('internal'),
        delivery: { get: 'in-worker', list: 'in-worker' },
      }),
    ],
  });
}
