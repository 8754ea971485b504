/**
 * Registering an extension version: a bare component or a bundle. The component
 * is prepared (validated + transpiled) before anything is registered, so an invalid one leaves no
 * trace; versions are immutable. Used by the admin upload route and by the demo setup.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { readBundle, formatManifestProblems, type BundleError, type ManifestProblem } from '../bundle/index.js';
import { ServiceError } from './errors.js';
import type { Runtime } from './runtime.js';
import type { BundleAcceptance } from './bundles.js';

export interface RegisteredVersion {
  extension_id: string;
  version_id: string;
  content_hash: string;
}

export interface Registered {
  /** false when the same bytes were already registered under this version */
  created: boolean;
  /** the bundle manifest's unknown keys, ignored as Alga ignores them (path + message each) */
  warnings: readonly ManifestProblem[];
  ids: RegisteredVersion;
}

export interface ComponentVersion {
  name: string;
  publisher: string;
  version: string;
  manifest: Record<string, unknown>;
  component: Uint8Array;
  /** the version's content hash when it is not the component's (a bundle's hash) */
  contentHash?: string;
  /** keeps what the version needs besides its row (a bundle's bytes), once it is known to be new or the same */
  keep?: (extensionId: string) => Promise<void>;
}

/** A bundle the reader refused: 413 for a size cap, else 400; `bundle_error` is the bundle code. */
function bundleRefusal(error: BundleError): ServiceError {
  const detail = `${error.message}${error.problems ? `\n${formatManifestProblems(error.problems)}` : ''}`;
  return new ServiceError(error.status === 413 ? 'bundle_too_large' : 'invalid_bundle', detail, { bundle_error: error.code, problems: error.problems ?? [] });
}

export class Registration {
  constructor(
    private readonly runtime: Runtime,
    private readonly bundles: BundleAcceptance,
  ) {}

  async component(input: ComponentVersion): Promise<Registered> {
    const { registry } = this.runtime.store;
    const prepared = await this.runtime.engine.prepare(input.component);
    if (prepared.kind === 'err') throw new ServiceError('invalid_component', prepared.problem.message, { problem: prepared.problem.code });
    const contentHash = input.contentHash ?? prepared.artifact.contentHash;
    const extension = await registry.ensureExtension({ name: input.name, publisher: input.publisher });
    const conflict = (existing: { contentHash: string }) => new ServiceError('version_conflict', `${input.name}@${input.version} is ${existing.contentHash}`);
    // versions are immutable: refuse different bytes before keeping anything of them
    const existing = await registry.findVersion(extension.id, input.version);
    if (existing && existing.contentHash !== contentHash) throw conflict(existing);
    await input.keep?.(extension.id);
    const added = await registry.addVersion({ extensionId: extension.id, version: input.version, contentHash, manifest: { ...input.manifest, component_hash: prepared.artifact.contentHash } });
    if (added.kind === 'conflict') throw conflict(added.existing);
    return { created: added.kind === 'created', warnings: [], ids: { extension_id: extension.id, version_id: added.version.id, content_hash: added.version.contentHash } };
  }

  /** A `bundle.tar.zst`: read safely, signature checked when required, bytes kept for its UI. */
  async bundle(bytes: Uint8Array, headers: IncomingHttpHeaders = {}): Promise<Registered> {
    const parsed = await readBundle(bytes);
    if (parsed.kind === 'err') throw bundleRefusal(parsed.error);
    const bundle = parsed.value;
    this.bundles.verify(bundle, headers);
    const m = bundle.manifest;
    const registered = await this.component({
      name: m.name,
      publisher: m.publisher,
      version: m.version,
      manifest: m as unknown as Record<string, unknown>,
      component: bundle.mainWasm,
      contentHash: bundle.contentHash,
      keep: (extensionId) => this.bundles.keep(extensionId, bytes),
    });
    return { ...registered, warnings: bundle.manifestWarnings };
  }
}
