/**
 * The Alga-managed mode (RUNNER_REGISTRY=alga): Alga is the registry. The authenticated caller's
 * envelope says the install — Alga's tenant, extension, install and version ids, the bundle's
 * content hash, the grants (`providers`) and the config — and the bundle comes from Alga's bundle
 * store by that hash (ComponentSource.ensureBundle). Nothing is looked up in the runner's own
 * registry; no admin call is needed. The caller is trusted to say the install (docs/security.md).
 *
 * Two steps: `managedInstallRef` reads the install's identity from the envelope alone (enough for
 * the idempotency record: a replay answers from it and fetches nothing), `managedInstall` fetches
 * and prepares the bundle, only when the guest is to run.
 */
import type { ExecuteEnvelope } from './envelope.js';
import { ServiceError } from './errors.js';
import type { ComponentSource } from './component-source.js';
import type { ResolvedInstall } from './runtime.js';

/** Settings of the mode that apply to every install, as Alga's runner takes them from its environment. */
export interface ManagedSettings {
  /** `http.fetch` allowlist for every install (Alga's runner: EXT_EGRESS_ALLOWLIST) */
  readonly egressAllow: readonly string[];
  /** the one upstream of `cap:ui.proxy` (Alga's runner: UI_PROXY_BASE_URL); null: none */
  readonly uiProxyBaseUrl: string | null;
}

/** The fields the managed mode needs from the envelope's context; an envelope without them is refused. */
const REQUIRED = ['install_id', 'version_id', 'content_hash'] as const;

/** Alga's install as the envelope names it. */
export interface ManagedInstallRef {
  readonly tenantId: string;
  readonly extensionId: string;
  readonly installId: string;
  readonly versionId: string;
  readonly bundleHash: string;
}

/** The install the envelope names, without fetching anything; an envelope that does not name one is refused. */
export function managedInstallRef(envelope: ExecuteEnvelope): ManagedInstallRef {
  const { context } = envelope;
  const absent = REQUIRED.filter((field) => !context[field]);
  if (absent.length) throw new ServiceError('invalid_request', `RUNNER_REGISTRY=alga: the envelope's context must carry ${absent.map((f) => `context.${f}`).join(', ')} (Alga's install)`);
  return {
    tenantId: context.tenant_id,
    extensionId: context.extension_id,
    installId: context.install_id as string,
    versionId: context.version_id as string,
    bundleHash: context.content_hash as string,
  };
}

/** The install with its bundle fetched from Alga's store and prepared (once per process). */
export async function managedInstall(envelope: ExecuteEnvelope, components: ComponentSource, settings: ManagedSettings): Promise<ResolvedInstall> {
  const { context } = envelope;
  const { installId, versionId, bundleHash } = managedInstallRef(envelope);
  const bundle = await components.ensureBundle(context.tenant_id, context.extension_id, bundleHash);
  const now = new Date(0);
  return {
    install: {
      id: installId,
      tenantId: context.tenant_id,
      extensionId: context.extension_id,
      versionId,
      // the caller's providers grant (as in Alga's runner), within what the bundle's manifest declares
      grants: envelope.providers ?? [],
      // the envelope's config is merged over this by the executor
      config: {},
      egressAllow: settings.egressAllow,
      uiProxy: settings.uiProxyBaseUrl ? { baseUrl: settings.uiProxyBaseUrl, prefixExtension: true } : null,
      limits: {},
      instanceMode: 'fresh',
      enabled: true,
      createdAt: now,
      updatedAt: now,
    },
    // Alga's version id; its semver is Alga's business (nothing here reads it)
    version: { id: versionId, extensionId: context.extension_id, version: '0.0.0', contentHash: bundleHash, manifest: { component_hash: bundle.componentHash }, createdAt: now },
    componentHash: bundle.componentHash,
    manifestCapabilities: [...bundle.manifestCapabilities],
  };
}
