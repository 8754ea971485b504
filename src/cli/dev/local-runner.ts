/**
 * The runner behind `alga-runner dev`: the service in this process on SQLite under the project's
 * .alga-runner/dev/ (kept across runs, so what the extension stored is still there), listening on
 * loopback with generated tokens (so the dev gateway and the UI's own fetch('/api/ext/…') calls
 * need none), the demo tenant's clients and services seeded. Each build is registered as a fresh
 * dev version (`<version>-dev-<hash>`) and the tenant's install is pointed at it: no version bumps.
 * `GET /dev/ui` redirects to the current build's UI, so a browser tab survives reloads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Manifest } from '../../bundle/index.js';
import type { RunningService } from '../../service/server.js';

export interface DevDeployment {
  extensionId: string;
  installId: string;
  versionId: string;
  version: string;
  contentHash: string;
  /** the UI's address of this build (the manifest declares a UI), else null */
  uiPath: string | null;
  /** false when these very bytes were already registered (nothing changed) */
  created: boolean;
}

export interface LocalRunnerOptions {
  projectDir: string;
  port: number;
  tenant: string;
  /** the install's egress allowlist (`scheme://host[:port]` patterns) */
  allowHosts: string[];
}

export interface LogLine {
  level: string;
  stream: string;
  message: string;
  requestId: string | null;
}

/** The dev version of a build: the manifest's version with a pre-release tag naming the bundle. */
export function devVersion(version: string, bundleTag: string): string {
  return `${version}${version.includes('-') ? '.' : '-'}dev-${bundleTag}`;
}

export class LocalRunner {
  private deployment: DevDeployment | null = null;
  private stopTail: (() => void) | null = null;

  private constructor(
    readonly service: RunningService,
    private readonly options: LocalRunnerOptions,
    private readonly serviceLog: WriteStream,
    readonly dataDir: string,
  ) {}

  static async start(options: LocalRunnerOptions): Promise<LocalRunner> {
    const { loadConfig } = await import('../../service/config.js');
    const { startService } = await import('../../service/server.js');
    const { seedDemoTenantData } = await import('../../capabilities/demo-data.js');
    const dataDir = join(options.projectDir, '.alga-runner', 'dev');
    mkdirSync(dataDir, { recursive: true });
    // the secrets key lives beside the data, so the next run can read the secrets this one stored
    const keyFile = join(dataDir, 'secrets.key');
    if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    // only what dev chooses: the author's shell may hold a production runner's settings
    const env = { RUNNER_SECRETS_KEY: readFileSync(keyFile, 'utf8').trim(), RUNNER_DEV_TENANT: options.tenant };
    const config = loadConfig({ host: '127.0.0.1', port: String(options.port), dataDir, workers: '1' }, env);
    const serviceLog = createWriteStream(join(dataDir, 'runner.log'), { flags: 'a' });
    // the route is added before the runner exists; it asks the runner at request time
    const holder: { runner?: LocalRunner } = {};
    const service = await startService(config, {
      logDestination: { write: (line: string) => serviceLog.write(line) },
      beforeListen: (app) =>
        app.fastify.get('/dev/ui', { schema: { hide: true } }, async (_request, reply) => {
          const ui = holder.runner?.deployment?.uiPath;
          if (!ui) return reply.code(404).type('text/plain').send('this extension has no UI (manifest.json: ui.entry), or no build is running yet');
          return reply.redirect(ui, 302);
        }),
    });
    const runner = new LocalRunner(service, options, serviceLog, dataDir);
    holder.runner = runner;
    await seedDemoTenantData(service.runtime.tenantStore, options.tenant);
    return runner;
  }

  get url(): string {
    return this.service.url;
  }

  get current(): DevDeployment | null {
    return this.deployment;
  }

  /** The built component with the project's manifest and ui/, as `pack` would bundle them, installed for the dev tenant. */
  async deploy(manifestText: string, manifest: Manifest, component: Uint8Array, uiFiles: string[]): Promise<DevDeployment> {
    const { packBundle } = await import('../../bundle/index.js');
    const { projectDir, tenant } = this.options;
    const files = new Map<string, Uint8Array>();
    for (const file of uiFiles) files.set(relative(projectDir, file).split('\\').join('/'), await readFile(file));
    const tag = createHash('sha256').update(component).update(manifestText);
    for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) tag.update(path).update(bytes);
    const version = devVersion(manifest.version, tag.digest('hex').slice(0, 12));
    const manifestJson = JSON.stringify({ ...(JSON.parse(manifestText) as object), version }, null, 2);
    const packed = await packBundle({ manifestJson, mainWasm: component, uiFiles: files });
    if (packed.kind === 'err') throw new Error(`the build does not make a bundle: ${packed.error.message}`);
    const { runtime, registration } = this.service;
    const registered = await registration.bundle(packed.value.bytes);
    const { ids } = registered;
    const { registry } = runtime.store;
    const grants = manifest.capabilities ?? [];
    const existing = await registry.findInstall(tenant, ids.extension_id);
    const install = existing
      ? await registry.updateInstall(existing.id, { versionId: ids.version_id, grants, egressAllow: this.options.allowHosts, enabled: true })
      : (await registry.createInstall({ tenantId: tenant, extensionId: ids.extension_id, versionId: ids.version_id, grants, egressAllow: this.options.allowHosts })).install;
    if (!install) throw new Error(`the install of ${manifest.name} for tenant ${tenant} vanished`);
    // started now, so a component that cannot start says so here rather than at the first request
    const stored = await registry.getVersion(ids.version_id);
    const warmed = stored ? await runtime.warm(stored, install.limits) : null;
    if (warmed?.kind !== 'ok') throw new Error(`the build does not start: ${warmed ? warmed.message : 'its version vanished'}`);
    const uiEntry = manifest.ui?.entry.replace(/^ui\//, '');
    this.deployment = {
      extensionId: ids.extension_id,
      installId: install.id,
      versionId: ids.version_id,
      version,
      contentHash: ids.content_hash,
      uiPath: uiEntry ? `/ext-ui/${encodeURIComponent(ids.extension_id)}/${ids.content_hash}/${uiEntry}` : null,
      created: registered.created,
    };
    return this.deployment;
  }

  /** Sets the install's secrets to exactly these (names missing from the files are removed). */
  async setSecrets(values: Record<string, string>): Promise<void> {
    if (!this.deployment) return;
    const result = await this.service.runtime.store.secrets.putSecrets(this.deployment.installId, values);
    if (result.kind !== 'ok') throw new Error(`storing the secrets failed (${result.kind})`);
  }

  /** Every log record the install stores from now on (its log calls, stdout, stderr and the runner's notes), in order. */
  async tailLogs(installId: string, print: (line: LogLine) => void): Promise<void> {
    this.stopTail?.();
    const { runtime } = this.service;
    const newest = await runtime.store.logs.query({ installId, limit: 1 });
    let lastId = newest.at(-1)?.id ?? 0;
    let busy: Promise<void> | null = null;
    let again = false;
    const pump = (): void => {
      if (busy) {
        again = true;
        return;
      }
      busy = (async () => {
        do {
          again = false;
          for (;;) {
            const batch = await runtime.store.logs.query({ installId, afterId: lastId, limit: 500 });
            for (const r of batch) print({ level: r.level, stream: r.stream, message: r.message, requestId: r.request_id ?? null });
            if (batch.length === 0) break;
            lastId = batch.at(-1)!.id;
          }
        } while (again);
      })()
        .catch(() => undefined) // a failed read is retried at the next wake-up
        .finally(() => {
          busy = null;
        });
    };
    const onLogs = (id: string) => {
      if (id === installId) pump();
    };
    runtime.logBus.on('logs', onLogs);
    // the backstop for a notification missed
    const poll = setInterval(pump, 2000);
    this.stopTail = () => {
      clearInterval(poll);
      runtime.logBus.off('logs', onLogs);
    };
  }

  async close(): Promise<void> {
    this.stopTail?.();
    await this.service.close();
    await new Promise<void>((resolve) => this.serviceLog.end(resolve));
  }
}
