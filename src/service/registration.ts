/**
 * Registering an extension version: a bare component or a bundle. The component
 * is prepared (validated + transpiled) before anything is registered, so an invalid one leaves no
 * trace; the uploaded bytes are in the component store (component-store.ts) before the version row
 * is added, so a version every replica can see is one every replica can fetch; versions are
 * immutable. Used by the admin upload route and by the demo setup.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BUNDLE_FILE, COMPONENT_FILE, contentHashOf, type ContentHash, readBundle, formatManifestProblems, type BundleError, type ManifestProblem } from '../bundle/index.js';
import { ServiceError } from './errors.js';
import type { Runtime } from './runtime.js';
import type { BundleAcceptance } from './bundles.js';
import { REGISTRY_TENANT, uploadRefusal } from './component-store.js';

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
  /** null: a UI-only bundle (a UI and no API), registered with `component_hash: null` and nothing prepared */
  component: Uint8Array | null;
  /** a bundle's bytes, when the version is a bundle: its content hash is theirs, and they are what the store keeps */
  bundle?: Uint8Array;
}

/** Caller-chosen ids for the extension and the version (mirroring another registry's, e.g. Alga's); random UUIDs when absent. */
export interface ChosenIds {
  extensionId?: string;
  versionId?: string;
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

  async component(input: ComponentVersion, ids: ChosenIds = {}): Promise<Registered> {
    const { registry } = this.runtime.store;
    const componentHash = await this.prepared(input);
    const stored = input.bundle ? { bytes: input.bundle, file: BUNDLE_FILE } : { bytes: input.component ?? new Uint8Array(), file: COMPONENT_FILE };
    // the artifact store hashed the component with contentHashOf: the same form
    const contentHash = input.bundle ? contentHashOf(input.bundle) : (componentHash as ContentHash);
    const extension = await this.extension(input, ids.extensionId);
    const conflict = (existing: { contentHash: string }) => new ServiceError('version_conflict', `${input.name}@${input.version} is ${existing.contentHash}`);
    const idConflict = (existing: { id: string; extensionId: string; version: string }) =>
      new ServiceError('id_conflict', `version id ${ids.versionId} and ${input.name}@${input.version}: the registry has ${existing.version} of extension ${existing.extensionId} as ${existing.id}`, {
        version_id: existing.id,
      });
    // versions are immutable: refuse different bytes (or, with a chosen id, a different id) before keeping anything of them
    const existing = await registry.findVersion(extension.id, input.version);
    if (existing && existing.contentHash !== contentHash) throw conflict(existing);
    if (existing && ids.versionId !== undefined && existing.id !== ids.versionId) throw idConflict(existing);
    const chosen = ids.versionId === undefined ? null : await registry.getVersion(ids.versionId);
    if (chosen && (chosen.extensionId !== extension.id || chosen.version !== input.version)) throw idConflict(chosen);
    // the bytes first: a row whose bytes no replica can fetch would be a version that runs only here
    const { store } = this.runtime.components;
    const put = await store.putBundle(REGISTRY_TENANT, extension.id, stored.bytes, stored.file, contentHash);
    if (put.kind === 'err') throw uploadRefusal(store.kind, put.error);
    const added = await registry.addVersion({
      id: ids.versionId,
      extensionId: extension.id,
      version: input.version,
      contentHash,
      manifest: { ...input.manifest, component_hash: componentHash },
    });
    if (added.kind === 'conflict') throw conflict(added.existing);
    if (added.kind === 'id_conflict') throw idConflict(added.existing);
    return { created: added.kind === 'created', warnings: [], ids: { extension_id: extension.id, version_id: added.version.id, content_hash: added.version.contentHash } };
  }

  /** The component's hash once the engine has prepared it; null for a UI-only bundle, which has none to prepare. */
  private async prepared(input: ComponentVersion): Promise<string | null> {
    if (input.component === null) {
      if (!input.bundle) throw new ServiceError('invalid_component', 'neither a component nor a bundle');
      return null;
    }
    const prepared = await this.runtime.engine.prepare(input.component);
    if (prepared.kind === 'err') throw new ServiceError('invalid_component', prepared.problem.message, { problem: prepared.problem.code });
    return prepared.artifact.contentHash;
  }

  private async extension(input: Pick<ComponentVersion, 'name' | 'publisher'>, id: string | undefined) {
    const { registry } = this.runtime.store;
    if (id === undefined) return registry.ensureExtension({ name: input.name, publisher: input.publisher });
    const found = await registry.ensureExtensionWithId({ id, name: input.name, publisher: input.publisher });
    if (found.kind === 'ok') return found.extension;
    const e = found.existing;
    throw new ServiceError('id_conflict', `extension id ${id} with ${input.publisher}/${input.name}: the registry has ${e.publisher}/${e.name} as ${e.id}`, { extension_id: e.id });
  }

  /** A `bundle.tar.zst`: read safely, signature checked when required, bytes kept for its UI. */
  async bundle(bytes: Uint8Array, headers: IncomingHttpHeaders = {}, ids: ChosenIds = {}): Promise<Registered> {
    const parsed = await readBundle(bytes);
    if (parsed.kind === 'err') throw bundleRefusal(parsed.error);
    const bundle = parsed.value;
    this.bundles.verify(bundle, headers);
    const m = bundle.manifest;
    const registered = await this.component(
      {
        name: m.name,
        publisher: m.publisher,
        version: m.version,
        manifest: m as unknown as Record<string, unknown>,
        component: bundle.mainWasm,
        bundle: bytes,
      },
      ids,
    );
    return { ...registered, warnings: bundle.manifestWarnings };
  }
}
