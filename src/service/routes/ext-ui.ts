/**
 * Extension UI assets: `GET /ext-ui/{extensionId}/{contentHash}/{path}` serves the
 * `ui/` files of a bundle, for Alga to load in an iframe. No token (an iframe cannot send one);
 * only versions an enabled install runs are served (see ext-ui/ui-files.ts).
 *
 * The URL names the bytes (content hash), so a successful answer is cacheable forever: this is
 * the only place the service says `immutable` (everything else is `no-store`, see app.ts).
 */
import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import type { Runtime } from '../runtime.js';
import type { BundleAcceptance } from '../bundles.js';
import { ConfigError } from '../config.js';
import { UiFiles } from '../ext-ui/ui-files.js';
import { planResponse, type Encoding } from '../ext-ui/representation.js';
import { BINARY, documented, errorResponses } from '../openapi.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The UI may load its own scripts, styles, images, fonts and WebAssembly and call its own origin
 * (the runner's dev gateway, or Alga's gateway in front of it); it may be framed only by
 * `frameAncestors` (RUNNER_UI_FRAME_ANCESTORS, default `'self'`).
 */
export function contentSecurityPolicy(frameAncestors: string): string {
  // the operator's value goes into a header: it must stay one directive
  // eslint-disable-next-line no-control-regex
  if (/[;,\u0000-\u001f\u007f]/.test(frameAncestors)) throw new ConfigError(`RUNNER_UI_FRAME_ANCESTORS must be a source list without ';' or ',': ${JSON.stringify(frameAncestors)}`);
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "base-uri 'self'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/** The still-encoded path after `/ext-ui/{extensionId}/{contentHash}/`. */
function encodedFilePath(url: string): string {
  const pathname = url.split('?', 1)[0]!;
  return pathname.split('/').slice(4).join('/');
}

function compressor(encoding: Exclude<Encoding, 'identity'>, size: number) {
  // quality 5 compresses about as well as gzip -9 at gzip -6 speed: good for per-request work
  return encoding === 'br' ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: size } }) : createGzip();
}

export function extUiRoutes(app: FastifyInstance, deps: { runtime: Runtime; bundles: BundleAcceptance }): void {
  const files = new UiFiles(deps.runtime.store.registry, deps.bundles, app.log, deps.runtime.config.registry === 'alga');
  const csp = contentSecurityPolicy(deps.runtime.config.uiFrameAncestors);

  const anyFile = { content: { '*/*': { schema: BINARY } } };
  const schema = {
    summary: "A file of a bundle's ui/ directory (extension-less paths fall back to the UI entry)",
    description:
      "Standalone: only versions an enabled install runs. With RUNNER_REGISTRY=alga: Alga's extension id, and the tenant as `?tenant=` or `x-tenant-id`; the bundle comes from Alga's bundle store (docs/alga.md). Strong ETag (If-None-Match: 304), Range (206/416), br/gzip, `Cache-Control: immutable`, `nosniff`, a CSP.",
    tags: ['ui'],
    params: {
      type: 'object',
      required: ['extensionId', 'contentHash', '*'],
      properties: {
        extensionId: { type: 'string' },
        contentHash: { type: 'string', description: "the version's sha256:<64 hex>" },
        '*': { type: 'string', description: 'path under ui/' },
      },
    },
    response: {
      200: { description: 'the file', ...anyFile },
      206: { description: 'the requested range', ...anyFile },
      304: { description: 'not modified (ETag matched)' },
      416: { description: 'range not satisfiable' },
      ...errorResponses(
        'invalid_request',
        'not_found',
        'extension_not_found',
        'version_not_found',
        'shutting_down',
        'store_unavailable',
        'component_unavailable',
        'component_missing',
        'bundle_not_found',
        'component_hash_mismatch',
      ),
    },
  };
  app.get('/ext-ui/:extensionId/:contentHash/*', documented(schema), async (request, reply) => {
    const { extensionId, contentHash } = request.params as { extensionId: string; contentHash: string };
    reply.header('x-content-type-options', 'nosniff');
    // the managed mode's bundle key needs the tenant; Alga's runner takes it from ?tenant= or x-tenant-id
    const queryTenant = (request.query as { tenant?: unknown }).tenant;
    const headerTenant = request.headers['x-tenant-id'];
    const tenant = typeof queryTenant === 'string' && queryTenant ? queryTenant : typeof headerTenant === 'string' && headerTenant ? headerTenant : undefined;
    const file = await files.find(extensionId, contentHash, encodedFilePath(request.url), tenant);
    const plan = planResponse(file, request.headers);

    reply.header('etag', plan.etag).header('accept-ranges', 'bytes');
    if (file.compressible) reply.header('vary', 'accept-encoding');
    if (plan.kind === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${file.size}`).send();
    reply.header('cache-control', IMMUTABLE).header('content-security-policy', csp);
    if (plan.kind === 'not-modified') return reply.code(304).send();
    reply.header('content-type', file.contentType);
    if (plan.kind === 'partial') {
      reply
        .code(206)
        .header('content-range', `bytes ${plan.start}-${plan.end}/${file.size}`)
        .header('content-length', plan.end - plan.start + 1);
      return reply.send(createReadStream(file.file, { start: plan.start, end: plan.end }));
    }
    if (plan.encoding === 'identity') return reply.header('content-length', file.size).send(createReadStream(file.file));
    // pipeline destroys the compressor with a read error, so Fastify sees it and aborts the reply
    const body = pipeline(createReadStream(file.file), compressor(plan.encoding, file.size), () => undefined);
    return reply.header('content-encoding', plan.encoding).send(body);
  });
}
