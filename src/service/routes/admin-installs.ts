/** Admin API for installs, their secrets and logs (README.md "HTTP API", docs/openapi.json). */
import { isDeepStrictEqual } from 'node:util';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { egressAllowlistSchema } from '../../net/egress-allowlist.js';
import type { ExtensionVersion, Install, InstallLimits, InstallPatch, NewInstall } from '../../store/index.js';
import { chosenId } from '../chosen-ids.js';
import { ServiceError } from '../errors.js';
import { isUiOnly, type Runtime } from '../runtime.js';
import { parseWith } from '../validation.js';
import { ADMIN_SECURITY, documented, errorResponses, fromZod } from '../openapi.js';

const capName = z.string().regex(/^cap:[a-z][a-z0-9.]*$/, 'must be a cap: name');
const installFields = {
  version_id: z.string().min(1).optional(),
  grants: z.array(capName).optional(),
  config: z.record(z.string(), z.string()).optional(),
  egress: z.strictObject({ allow: egressAllowlistSchema }).optional(),
  ui_proxy: z
    .looseObject({ base_url: z.url({ protocol: /^https?$/ }) })
    .nullable()
    .optional(),
  limits: z.strictObject({ timeout_ms: z.number().int().positive().optional(), memory_mb: z.number().int().positive().optional() }).optional(),
  instance: z.enum(['fresh', 'reuse']).optional(),
  enabled: z.boolean().optional(),
};
const createInstallSchema = z.strictObject({ install_id: chosenId.optional(), tenant_id: z.string().min(1).max(200), extension_id: z.string().min(1), ...installFields });
const patchInstallSchema = z.strictObject(installFields);
const secretsSchema = z.strictObject({ values: z.record(z.string().min(1).max(200), z.string().max(64 * 1024)), expires_at: z.iso.datetime({ offset: true }).optional() });
const logsQuerySchema = z.object({
  request_id: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  follow: z.enum(['0', '1', 'true', 'false']).optional(),
  after: z.coerce.number().int().min(0).optional(),
});
const idParams = z.object({ id: z.string().min(1) });
const secretParams = z.object({ id: z.string().min(1), name: z.string().min(1).max(200) });
const listQuerySchema = z.object({ tenant_id: z.string().optional(), extension_id: z.string().optional() });

/** The OpenAPI side of these routes (openapi.ts): `installJson`'s shape, and each route's schema. */
const installShape = {
  type: 'object',
  required: ['install_id', 'tenant_id', 'extension_id', 'version_id', 'grants', 'config', 'egress', 'ui_proxy', 'limits', 'instance', 'enabled', 'created_at', 'updated_at'],
  properties: {
    install_id: { type: 'string' },
    tenant_id: { type: 'string' },
    extension_id: { type: 'string' },
    version_id: { type: 'string' },
    grants: { type: 'array', items: { type: 'string' } },
    config: { type: 'object', additionalProperties: { type: 'string' } },
    egress: { type: 'object', properties: { allow: { type: 'array', items: { type: 'string' } } } },
    ui_proxy: { anyOf: [{ type: 'object', properties: { base_url: { type: 'string' } } }, { type: 'null' }] },
    limits: { type: 'object', properties: { timeout_ms: { type: 'integer' }, memory_mb: { type: 'integer' } } },
    instance: { enum: ['fresh', 'reuse'] },
    enabled: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
};
const logRecordShape = {
  type: 'object',
  properties: {
    id: { type: 'integer', description: 'increasing; pass the last one seen as `after`' },
    ts: { type: 'string', format: 'date-time' },
    level: { type: 'string' },
    stream: { type: 'string' },
    message: { type: 'string' },
    truncated: { type: 'boolean' },
    tenant: { type: 'string' },
    extension: { type: 'string' },
    install: { type: 'string' },
    version: { type: ['string', 'null'] },
    request_id: { type: ['string', 'null'] },
  },
};
const idParamsJson = fromZod(idParams);
const admin = (summary: string, rest: Record<string, unknown>) => documented({ summary, tags: ['admin'], security: ADMIN_SECURITY, ...rest });
const common = ['unauthorized', 'shutting_down', 'store_unavailable'] as const;
const schemas = {
  create: admin('Install an extension version for a tenant (warmed before it is saved)', {
    body: fromZod(createInstallSchema),
    response: {
      200: {
        description: 'with a chosen install_id: this install already exists as the request asks (the same request again)',
        type: 'object',
        required: ['install_id'],
        properties: { install_id: { type: 'string' } },
      },
      201: { type: 'object', required: ['install_id'], properties: { install_id: { type: 'string' } } },
      ...errorResponses(
        ...common,
        'id_conflict',
        'invalid_request',
        'unknown_capability',
        'install_not_runnable',
        'extension_not_found',
        'version_not_found',
        'install_exists',
        'component_unavailable',
        'component_missing',
        'component_hash_mismatch',
        'unsupported_media_type',
        'body_too_large',
      ),
    },
  }),
  list: admin('Installs, optionally of one tenant or extension', {
    querystring: fromZod(listQuerySchema),
    response: { 200: { type: 'object', required: ['installs'], properties: { installs: { type: 'array', items: installShape } } }, ...errorResponses(...common, 'invalid_request') },
  }),
  get: admin('One install, with the names of its secrets', {
    params: idParamsJson,
    response: {
      200: { ...installShape, required: [...installShape.required, 'secrets'], properties: { ...installShape.properties, secrets: { type: 'array', items: { type: 'string' } } } },
      ...errorResponses(...common, 'invalid_request', 'install_not_found'),
    },
  }),
  patch: admin('Change an install (warmed again first when it would run differently)', {
    params: idParamsJson,
    body: fromZod(patchInstallSchema),
    response: {
      200: installShape,
      ...errorResponses(
        ...common,
        'invalid_request',
        'unknown_capability',
        'install_not_runnable',
        'install_not_found',
        'version_not_found',
        'component_unavailable',
        'component_missing',
        'component_hash_mismatch',
        'unsupported_media_type',
        'body_too_large',
      ),
    },
  }),
  delete: admin('Remove an install', {
    params: idParamsJson,
    response: { 204: { description: 'removed' }, ...errorResponses(...common, 'invalid_request', 'install_not_found') },
  }),
  secrets: admin('Replace the secrets of an install (names not sent are removed), encrypted with RUNNER_SECRETS_KEY', {
    params: idParamsJson,
    body: fromZod(secretsSchema),
    response: { 204: { description: 'stored' }, ...errorResponses(...common, 'invalid_request', 'install_not_found', 'secrets_key_missing', 'unsupported_media_type', 'body_too_large') },
  }),
  mergeSecrets: admin('Set some secrets of an install (its other secrets stay), encrypted with RUNNER_SECRETS_KEY', {
    params: idParamsJson,
    body: fromZod(secretsSchema),
    response: { 204: { description: 'stored' }, ...errorResponses(...common, 'invalid_request', 'install_not_found', 'secrets_key_missing', 'unsupported_media_type', 'body_too_large') },
  }),
  deleteSecret: admin('Remove one secret of an install', {
    params: fromZod(secretParams),
    response: { 204: { description: 'removed' }, ...errorResponses(...common, 'invalid_request', 'install_not_found', 'secret_not_found') },
  }),
  logs: admin("The install's log records, or with follow=1 a live tail as server-sent events (`event: log`, data: one record)", {
    params: idParamsJson,
    querystring: fromZod(logsQuerySchema),
    response: {
      200: {
        description:
          'records, oldest first (the newest `limit`, or the first `limit` after `after`); text/event-stream with follow (the newest `limit` first, or every record after `after`, then new ones)',
        content: {
          'application/json': { schema: { type: 'object', required: ['records'], properties: { records: { type: 'array', items: logRecordShape } } } },
          'text/event-stream': { schema: { type: 'string' } },
        },
      },
      ...errorResponses(...common, 'invalid_request', 'install_not_found'),
    },
  }),
};

/**
 * Whether an install is what a creation asks for, field by field (stored values compared as
 * stored, i.e. after a JSON round trip): how the same creation sent again is told from a conflict.
 */
function installMatches(install: Install, wanted: NewInstall): boolean {
  const norm = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;
  const pairs: [unknown, unknown][] = [
    [install.tenantId, wanted.tenantId],
    [install.extensionId, wanted.extensionId],
    [install.versionId, wanted.versionId],
    [[...install.grants].sort(), [...wanted.grants].sort()],
    [install.config, wanted.config ?? {}],
    [install.egressAllow, wanted.egressAllow ?? []],
    [install.uiProxy, wanted.uiProxy ?? null],
    [install.limits, wanted.limits ?? {}],
    [install.instanceMode, wanted.instanceMode ?? 'fresh'],
    [install.enabled, wanted.enabled ?? true],
  ];
  return pairs.every(([a, b]) => isDeepStrictEqual(norm(a), norm(b)));
}

export function installJson(install: Install): Record<string, unknown> {
  return {
    install_id: install.id,
    tenant_id: install.tenantId,
    extension_id: install.extensionId,
    version_id: install.versionId,
    grants: install.grants,
    config: install.config,
    egress: { allow: install.egressAllow },
    ui_proxy: install.uiProxy ? { base_url: install.uiProxy.baseUrl } : null,
    limits: { timeout_ms: install.limits.timeoutMs, memory_mb: install.limits.memoryMb },
    instance: install.instanceMode,
    enabled: install.enabled,
    created_at: install.createdAt.toISOString(),
    updated_at: install.updatedAt.toISOString(),
  };
}

export function adminInstallRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { registry } = runtime.store;
  const known = new Set<string>(runtime.registry.names());

  const checkGrants = (grants: string[] | undefined) => {
    const unknown = (grants ?? []).filter((g) => !known.has(g));
    if (unknown.length) throw new ServiceError('unknown_capability', unknown.join(', '));
  };
  const checkLimits = (limits: { timeout_ms?: number; memory_mb?: number } | undefined) => {
    if (limits?.timeout_ms && limits.timeout_ms > runtime.config.maxTimeoutMs)
      throw new ServiceError('invalid_request', `limits.timeout_ms exceeds the operator maximum of ${runtime.config.maxTimeoutMs}`);
    if (limits?.memory_mb && limits.memory_mb > runtime.config.maxMemoryMb) throw new ServiceError('invalid_request', `limits.memory_mb exceeds the operator maximum of ${runtime.config.maxMemoryMb}`);
  };
  const toPatch = (body: z.infer<typeof patchInstallSchema>): InstallPatch => ({
    ...(body.version_id !== undefined && { versionId: body.version_id }),
    ...(body.grants !== undefined && { grants: body.grants }),
    ...(body.config !== undefined && { config: body.config }),
    ...(body.egress !== undefined && { egressAllow: body.egress.allow }),
    ...(body.ui_proxy !== undefined && { uiProxy: body.ui_proxy ? { ...body.ui_proxy, baseUrl: body.ui_proxy.base_url } : null }),
    ...(body.limits !== undefined && { limits: { timeoutMs: body.limits.timeout_ms, memoryMb: body.limits.memory_mb } }),
    ...(body.instance !== undefined && { instanceMode: body.instance }),
    ...(body.enabled !== undefined && { enabled: body.enabled }),
  });
  /**
   * Gets the version ready to serve under these limits before the install is saved, so its first
   * request does not pay for compiling and instantiating it — and refuses, saving nothing, a
   * version that cannot start with them. Other warm-up faults (a worker lost meanwhile) are the
   * runner's, not the install's: logged, and the first request tries again.
   */
  const warmBeforeSaving = async (log: FastifyBaseLogger, tenant: string, version: ExtensionVersion, limits: InstallLimits, reuseInstall?: string) => {
    if (isUiOnly(version)) return; // nothing to run: only its UI is served
    const warmed = await runtime.warm(version, limits, reuseInstall ? { tenantId: tenant, installId: reuseInstall } : undefined);
    const fields = { tenant, version: version.id, memory_mb: runtime.memoryMbFor(limits) };
    if (warmed.kind === 'ok') {
      log.info({ ...fields, instance: warmed.instance, ms: Math.round(warmed.durationMs) }, 'install warmed');
      return;
    }
    if (warmed.code === 'memory_limit' || warmed.code === 'instantiate_failed') throw new ServiceError('install_not_runnable', warmed.message, { fault: warmed.code });
    // a warm-up runs no handler: a deadline it misses was spent instantiating (start functions)
    if (warmed.code === 'timeout') {
      throw new ServiceError('install_not_runnable', `the component did not finish instantiating (its start functions) within its ${runtime.timeoutMsFor(limits)} ms deadline`, { fault: warmed.code });
    }
    log.warn({ ...fields, fault: warmed.code }, `warming the install failed: ${warmed.message}`);
  };
  const mustGetInstall = async (id: string) => {
    const install = await registry.getInstall(id);
    if (!install) throw new ServiceError('install_not_found', id);
    return install;
  };
  const versionOf = async (extensionId: string, versionId: string | undefined) => {
    if (versionId) {
      const v = await registry.getVersion(versionId);
      if (!v || v.extensionId !== extensionId) throw new ServiceError('version_not_found', versionId);
      return v;
    }
    const versions = await registry.listVersions(extensionId);
    const latest = versions.at(-1);
    if (!latest) throw new ServiceError('version_not_found', `extension ${extensionId} has no versions`);
    return latest;
  };

  app.post('/admin/v1/installs', schemas.create, async (request, reply) => {
    const body = parseWith(createInstallSchema, request.body, 'body');
    checkGrants(body.grants);
    checkLimits(body.limits);
    const extension = (await registry.getExtension(body.extension_id)) ?? (await registry.findExtensionsByName(body.extension_id))[0];
    if (!extension) throw new ServiceError('extension_not_found', body.extension_id);
    const version = await versionOf(extension.id, body.version_id);
    const manifestCaps = Array.isArray(version.manifest.capabilities) ? (version.manifest.capabilities as string[]) : [];
    const patch = toPatch(body);
    const wanted: NewInstall = { ...patch, id: body.install_id, tenantId: body.tenant_id, extensionId: extension.id, versionId: version.id, grants: body.grants ?? manifestCaps };
    const installExists = (id: string) => new ServiceError('install_exists', `install ${id}`, { install_id: id });
    // a chosen id already taken: the same creation again is answered as before, anything else is a conflict
    const sameAgain = (taken: Install) => {
      if (!installMatches(taken, wanted)) {
        throw new ServiceError('id_conflict', `install id ${taken.id} is the install of ${taken.extensionId} for tenant ${taken.tenantId}, with other settings than this request's`, {
          install_id: taken.id,
        });
      }
      return reply.code(200).send({ install_id: taken.id });
    };
    const taken = body.install_id === undefined ? null : await registry.getInstall(body.install_id);
    if (taken) return sameAgain(taken);
    // a duplicate is told so at once, not warmed first (or refused for its limits); createInstall
    // still settles a race between two creations
    const existing = await registry.findInstall(body.tenant_id, extension.id);
    if (existing) throw installExists(existing.id);
    if (body.enabled !== false) await warmBeforeSaving(request.log, body.tenant_id, version, patch.limits ?? {});
    const created = await registry.createInstall(wanted);
    if (created.kind === 'id_taken') return sameAgain(created.install);
    if (created.kind === 'exists') throw installExists(created.install.id);
    return reply.code(201).send({ install_id: created.install.id });
  });

  app.get('/admin/v1/installs', schemas.list, async (request) => {
    const q = parseWith(listQuerySchema, request.query, 'query');
    const installs = await registry.listInstalls({ tenantId: q.tenant_id, extensionId: q.extension_id });
    return { installs: installs.map(installJson) };
  });

  app.get('/admin/v1/installs/:id', schemas.get, async (request) => {
    const { id } = parseWith(idParams, request.params, 'params');
    const install = await mustGetInstall(id);
    return { ...installJson(install), secrets: await runtime.store.secrets.listSecretNames(id) };
  });

  app.patch('/admin/v1/installs/:id', schemas.patch, async (request) => {
    const { id } = parseWith(idParams, request.params, 'params');
    const body = parseWith(patchInstallSchema, request.body, 'body');
    checkGrants(body.grants);
    checkLimits(body.limits);
    const install = await mustGetInstall(id);
    const newVersion = body.version_id ? await versionOf(install.extensionId, body.version_id) : null;
    const patch = toPatch(body);
    const mode = body.instance ?? install.instanceMode;
    const runsDifferently = newVersion !== null || patch.limits !== undefined || mode !== install.instanceMode || (body.enabled === true && !install.enabled);
    if (runsDifferently && (body.enabled ?? install.enabled)) {
      const version = newVersion ?? (await registry.getVersion(install.versionId));
      // a new install cannot have its own reuse-mode instance yet (no id): its first request makes it
      if (version) await warmBeforeSaving(request.log, install.tenantId, version, patch.limits ?? install.limits, mode === 'reuse' ? install.id : undefined);
    }
    const updated = await registry.updateInstall(id, patch);
    if (!updated) throw new ServiceError('install_not_found', id);
    return installJson(updated);
  });

  app.delete('/admin/v1/installs/:id', schemas.delete, async (request, reply) => {
    const { id } = parseWith(idParams, request.params, 'params');
    if (!(await registry.deleteInstall(id))) throw new ServiceError('install_not_found', id);
    return reply.code(204).send();
  });

  app.put('/admin/v1/installs/:id/secrets', schemas.secrets, async (request, reply) => {
    const { id } = parseWith(idParams, request.params, 'params');
    const body = parseWith(secretsSchema, request.body, 'body');
    await mustGetInstall(id);
    const result = await runtime.store.secrets.putSecrets(id, body.values, body.expires_at ? new Date(body.expires_at) : undefined);
    if (result.kind === 'no-key') throw new ServiceError('secrets_key_missing');
    // removed meanwhile (through another replica, say): nothing was stored
    if (result.kind === 'missing') throw new ServiceError('install_not_found', id);
    return reply.code(204).send();
  });

  app.patch('/admin/v1/installs/:id/secrets', schemas.mergeSecrets, async (request, reply) => {
    const { id } = parseWith(idParams, request.params, 'params');
    const body = parseWith(secretsSchema, request.body, 'body');
    await mustGetInstall(id);
    const result = await runtime.store.secrets.mergeSecrets(id, body.values, body.expires_at ? new Date(body.expires_at) : undefined);
    if (result.kind === 'no-key') throw new ServiceError('secrets_key_missing');
    if (result.kind === 'missing') throw new ServiceError('install_not_found', id);
    return reply.code(204).send();
  });

  app.delete('/admin/v1/installs/:id/secrets/:name', schemas.deleteSecret, async (request, reply) => {
    const { id, name } = parseWith(secretParams, request.params, 'params');
    await mustGetInstall(id);
    const result = await runtime.store.secrets.deleteSecret(id, name);
    if (result.kind === 'missing') throw new ServiceError('install_not_found', id);
    if (result.kind === 'absent') throw new ServiceError('secret_not_found', name);
    return reply.code(204).send();
  });

  app.get('/admin/v1/installs/:id/logs', schemas.logs, async (request, reply) => {
    const { id } = parseWith(idParams, request.params, 'params');
    const q = parseWith(logsQuerySchema, request.query, 'query');
    await mustGetInstall(id);
    const follow = q.follow === '1' || q.follow === 'true';
    if (!follow) return { records: await runtime.store.logs.query({ installId: id, requestId: q.request_id, limit: q.limit, afterId: q.after }) };
    await streamLogs(runtime, reply, id, q.request_id, q.after, q.limit);
    return reply;
  });
}

/**
 * Live tail as server-sent events: the newest `limit` records first (without `after`), then each new one as it is stored.
 * Woken by the log bus — records stored by any process on the store, told by the change feed — and
 * by a slow poll as the backstop.
 */
async function streamLogs(runtime: Runtime, reply: FastifyReply, installId: string, requestId: string | undefined, after: number | undefined, limit: number): Promise<void> {
  // read before the stream opens, so a database that cannot be reached is still an error answer
  let lastId = after ?? 0;
  let recent: { id: number }[] = [];
  if (after === undefined) {
    recent = await runtime.store.logs.query({ installId, requestId, limit });
    lastId = recent.at(-1)?.id ?? (await latestId(runtime, installId));
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const send = (r: { id: number }) => res.write(`id: ${r.id}\nevent: log\ndata: ${JSON.stringify(r)}\n\n`);
  let busy = false;
  let again = false;
  let failing = false;
  // never rejects: it runs from timers and events, where a rejection would end the process
  const pump = async () => {
    if (res.destroyed) return;
    // a wake-up while a pump runs is not lost: the running pump goes round once more
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        for (;;) {
          const batch = await runtime.store.logs.query({ installId, requestId, afterId: lastId, limit: 500 });
          for (const r of batch) send(r);
          if (batch.length === 0) break;
          lastId = batch.at(-1)!.id;
        }
      } while (again && !res.destroyed);
      failing = false;
    } catch (e) {
      // the database restarting, say: the stream stays open and the next poll reads from lastId
      if (!failing) reply.log.warn({ err: e, install: installId }, 'live log tail: reading records failed; retrying on the next poll');
      failing = true;
    } finally {
      busy = false;
    }
  };
  const onLogs = (id: string) => {
    if (id === installId) void pump();
  };
  const end = () => res.end();
  // listen before the client learns the stream is open, so no record stored after that is missed
  runtime.logBus.on('logs', onLogs);
  runtime.logBus.on('shutdown', end);
  // the backstop (a notification lost while the feed reconnects) and the keep-alive
  const poll = setInterval(() => {
    res.write(': keep-alive\n\n');
    void pump();
  }, runtime.config.logTailPollMs);
  res.on('close', () => {
    clearInterval(poll);
    runtime.logBus.off('logs', onLogs);
    runtime.logBus.off('shutdown', end);
  });
  for (const r of recent) send(r);
  // headers and a first comment now: a client waits for them before it does anything else
  res.write(': connected\n\n');
  await pump();
}

async function latestId(runtime: Runtime, installId: string): Promise<number> {
  const newest = await runtime.store.logs.query({ installId, limit: 1 });
  return newest.at(-1)?.id ?? 0;
}
