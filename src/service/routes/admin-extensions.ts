/**
 * `POST /admin/v1/extensions`: register a bare component (`application/wasm`, name/version/
 * capabilities and optional api endpoints in the query) or a bundle (`application/zstd`). Prepares (validates + transpiles)
 * the component before anything is registered, so an invalid one leaves no trace.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import semver from 'semver';
import { ENDPOINT_METHODS, endpointPathProblem } from '../../bundle/index.js';
import { ServiceError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { parseWith } from '../validation.js';
import type { BundleAcceptance } from '../bundles.js';
import { Registration, type Registered } from '../registration.js';
import { chosenId } from '../chosen-ids.js';
import { ADMIN_SECURITY, BINARY, describeProperties, documented, errorResponses, fromZod } from '../openapi.js';

const NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;

/**
 * A bare component has no manifest, so its `api.endpoints` come in the query, as a bundle's would
 * in manifest.json: `endpoints=GET /items,POST /items/:id` (method, a space, a path; comma-separated).
 */
const endpointsQuery = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const items = (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return items.map((item) => {
      const [method = '', path = '', ...rest] = item.split(/\s+/);
      const upper = method.toUpperCase();
      if (rest.length > 0 || !(ENDPOINT_METHODS as readonly string[]).includes(upper)) {
        ctx.addIssue({ code: 'custom', message: `'${item}' is not 'METHOD /path' with METHOD one of ${ENDPOINT_METHODS.join(', ')}` });
      }
      const problem = endpointPathProblem(path);
      if (problem) ctx.addIssue({ code: 'custom', message: `endpoint path '${path}' ${problem}` });
      return { method: upper, path, handler: 'handler' };
    });
  });
/** Caller-chosen ids (chosen-ids.ts), for a bundle as for a bare component. */
const idsQuerySchema = z.object({ extension_id: chosenId.optional(), version_id: chosenId.optional() });
const bareQuerySchema = idsQuerySchema.extend({
  name: z.string().regex(NAME, 'lower-case letters, digits, dot, dash, underscore'),
  version: z.string().refine((v) => semver.valid(v) !== null, 'must be semver (1.2.3)'),
  publisher: z.string().min(1).max(200).default('local'),
  capabilities: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
  endpoints: endpointsQuery,
});

const registeredIds = {
  type: 'object',
  required: ['extension_id', 'version_id', 'content_hash', 'warnings'],
  properties: {
    extension_id: { type: 'string' },
    version_id: { type: 'string' },
    content_hash: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
    warnings: {
      type: 'array',
      description: "the bundle manifest's unknown keys, ignored as Alga ignores them (also logged); empty for a bare component",
      items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};
const uploadSchema = {
  summary: 'Register an extension version: a bare component (application/wasm) or a bundle (application/zstd)',
  description:
    'A bare component takes its name, version, publisher, capabilities and endpoints from the query (refused with `signature_required` when RUNNER_REQUIRE_SIGNATURES=1); a bundle takes them from its manifest.json (docs/manifest.md), and its signature from `x-alga-bundle-signature` when signatures are required. The component is validated and prepared before anything is registered; a UI-only bundle (a ui, no api, no dist/main.wasm: docs/manifest.md) has none and is registered with its UI alone.',
  tags: ['admin'],
  security: ADMIN_SECURITY,
  querystring: describeProperties(fromZod(bareQuerySchema), {
    name: 'application/wasm only (as every field here): lower-case letters, digits, dot, dash, underscore',
    version: 'semver, e.g. 1.2.3',
    capabilities: 'comma-separated cap: names, e.g. cap:storage.kv,cap:log.emit',
    endpoints: 'api.endpoints as a bundle manifest would declare them: comma-separated `METHOD /path`, e.g. `GET /items,POST /items/:id`',
    extension_id:
      "bundles and bare components: the extension's id, chosen by the caller (e.g. Alga's registry id; pattern in src/service/chosen-ids.ts, a UUID fits); 409 id_conflict when it names another extension or this publisher and name already have another id",
    version_id: "bundles and bare components: the version's id, chosen by the caller (e.g. Alga's version id); 409 id_conflict when it names another version or this version already has another id",
  }),
  headers: { type: 'object', properties: { 'x-alga-bundle-signature': { type: 'string', description: 'base64 of the bundle signature (bundles; src/bundle/signature.ts)' } } },
  body: { content: { 'application/wasm': { schema: BINARY }, 'application/zstd': { schema: BINARY }, 'application/octet-stream': { schema: BINARY } } },
  response: {
    200: { description: 'this version was already registered with the same content (and the same chosen ids)', ...registeredIds },
    201: { description: 'registered', ...registeredIds },
    ...errorResponses(
      'invalid_request',
      'unknown_capability',
      'invalid_component',
      'invalid_bundle',
      'signature_required',
      'unauthorized',
      'version_conflict',
      'id_conflict',
      'body_too_large',
      'bundle_too_large',
      'unsupported_media_type',
      'shutting_down',
      'store_unavailable',
      'component_unavailable',
      'component_store_read_only',
    ),
  },
};
const listSchema = {
  summary: 'Registered extensions and their versions',
  tags: ['admin'],
  security: ADMIN_SECURITY,
  response: {
    200: {
      type: 'object',
      required: ['extensions'],
      properties: {
        extensions: {
          type: 'array',
          items: {
            type: 'object',
            required: ['extension_id', 'name', 'publisher', 'versions'],
            properties: {
              extension_id: { type: 'string' },
              name: { type: 'string' },
              publisher: { type: 'string' },
              versions: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['version_id', 'version', 'content_hash', 'capabilities', 'endpoints', 'ui'],
                  properties: {
                    version_id: { type: 'string' },
                    version: { type: 'string' },
                    content_hash: { type: 'string' },
                    capabilities: { type: 'array', items: { type: 'string' } },
                    endpoints: {
                      type: 'array',
                      items: { type: 'object', properties: { method: { type: 'string' }, path: { type: 'string' }, handler: { type: 'string' }, schedulable: { type: 'boolean' } } },
                    },
                    ui: { description: "the manifest's ui (docs/manifest.md), or null", anyOf: [{ type: 'object' }, { type: 'null' }] },
                  },
                },
              },
            },
          },
        },
      },
    },
    ...errorResponses('unauthorized', 'shutting_down', 'store_unavailable'),
  },
};

/** What a version offers, as its manifest declares it: capabilities, endpoints and UI. */
function registeredSurface(manifest: Readonly<Record<string, unknown>>): { capabilities: unknown; endpoints: unknown; ui: unknown } {
  const api = manifest.api as { endpoints?: unknown } | undefined;
  return { capabilities: manifest.capabilities ?? [], endpoints: api?.endpoints ?? [], ui: manifest.ui ?? null };
}

export function adminExtensionRoutes(app: FastifyInstance, runtime: Runtime, bundles: BundleAcceptance): void {
  const { registry } = runtime.store;
  const known = new Set<string>(runtime.registry.names());
  const registration = new Registration(runtime, bundles);

  app.post('/admin/v1/extensions', documented(uploadSchema), async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const body = request.body;
    if (!(body instanceof Uint8Array)) throw new ServiceError('unsupported_media_type', 'send application/wasm (a component) or application/zstd (a bundle)');
    let result: Registered;
    if (type === 'application/wasm') {
      bundles.verifyBareComponent();
      const q = parseWith(bareQuerySchema, request.query, 'query');
      const unknown = q.capabilities.filter((c) => !known.has(c));
      if (unknown.length) throw new ServiceError('unknown_capability', unknown.join(', '));
      const manifest = {
        name: q.name,
        publisher: q.publisher,
        version: q.version,
        runtime: 'wasm-js@1',
        capabilities: q.capabilities,
        ...(q.endpoints.length > 0 && { api: { endpoints: q.endpoints } }),
      };
      result = await registration.component({ name: q.name, publisher: q.publisher, version: q.version, manifest, component: body }, { extensionId: q.extension_id, versionId: q.version_id });
    } else {
      const q = parseWith(idsQuerySchema, request.query, 'query');
      result = await registration.bundle(body, request.headers, { extensionId: q.extension_id, versionId: q.version_id });
    }
    if (result.warnings.length > 0) request.log.warn({ extension_id: result.ids.extension_id, version_id: result.ids.version_id, warnings: result.warnings }, 'manifest has unknown keys (ignored)');
    return reply.code(result.created ? 201 : 200).send({ ...result.ids, warnings: result.warnings });
  });

  app.get('/admin/v1/extensions', documented(listSchema), async () => {
    const extensions = await registry.listExtensions();
    return {
      extensions: await Promise.all(
        extensions.map(async (e) => ({
          extension_id: e.id,
          name: e.name,
          publisher: e.publisher,
          versions: (await registry.listVersions(e.id)).map((v) => ({ version_id: v.id, version: v.version, content_hash: v.contentHash, ...registeredSurface(v.manifest) })),
        })),
      ),
    };
  });
}
