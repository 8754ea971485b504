/**
 * `manifest.json`, Alga's manifest v2 (docs/manifest.md lists every field), validated with one zod schema so that a bad
 * manifest yields every problem at once (path + message each), never just the first.
 *
 * Keys are Alga's v2 set. A key outside it is, as in Alga (whose schema drops unknown keys),
 * tolerated: it is left out of the parsed manifest and reported as a warning (path + "unknown key,
 * ignored"), which the upload answer returns and the service logs. `events`, `precompiled` and
 * `sbom` are accepted for compatibility with Alga-built bundles and carried through, but this
 * runner does not act on them (it runs `dist/main.wasm`, has no event bus, and precompiles itself).
 * `api.endpoints[].schedulable` (Alga's scheduler samples set it) is read by the scheduler: an
 * endpoint marked `false` cannot be scheduled.
 */
import semver from 'semver';
import { z } from 'zod';
import { normaliseCapability, type KnownCapability } from './capabilities.js';
import { checkEntryPath } from './entry-path.js';
import type { ManifestProblem } from './errors.js';

export const ENDPOINT_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type EndpointMethod = (typeof ENDPOINT_METHODS)[number];

const LITERAL_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;
const NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why an endpoint path is unusable, or undefined when it is fine. `/`, `/a/:id/b` are fine. */
export function endpointPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return "must start with '/'";
  if (path === '/') return undefined;
  if (path.endsWith('/')) return "must not end with '/'";
  const params = new Set<string>();
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment.startsWith(':')) {
      if (!PARAM_SEGMENT.test(segment)) return `parameter '${segment}' must be ':' followed by a letter or '_' and then letters, digits or '_'`;
      if (params.has(segment)) return `parameter '${segment}' appears twice`;
      params.add(segment);
    } else if (segment === '.' || segment === '..') {
      return `has a '${segment}' segment`;
    } else if (!LITERAL_SEGMENT.test(segment)) {
      return `segment '${segment}' may only hold letters, digits and . _ ~ -`;
    }
  }
  return undefined;
}

const text = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');

const bundlePath = z.string().superRefine((value, ctx) => {
  const check = checkEntryPath(value);
  if (check.kind === 'err') ctx.addIssue({ code: 'custom', message: `not a safe bundle path (${check.reason})` });
});

/** Globs are checked like paths with `*`, `?`, `[...]` and `{...}` allowed in segments. */
const assetPattern = z.string().superRefine((value, ctx) => {
  const check = checkEntryPath(value);
  if (check.kind === 'err') ctx.addIssue({ code: 'custom', message: `not a safe relative path or glob (${check.reason})` });
});

const capability = z.string().transform((value, ctx): KnownCapability => {
  const known = normaliseCapability(value);
  if (!known) {
    ctx.addIssue({ code: 'custom', message: `unknown capability '${value}'` });
    return z.NEVER;
  }
  return known;
});

const endpoint = z.strictObject({
  method: z.enum(ENDPOINT_METHODS, { error: `must be one of ${ENDPOINT_METHODS.join(', ')}` }),
  path: z.string().superRefine((value, ctx) => {
    const problem = endpointPathProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `endpoint path '${value}' ${problem}` });
  }),
  handler: text(512),
  schedulable: z.boolean({ error: 'must be true or false' }).optional(),
});

export const manifestSchema = z.strictObject({
  name: z.string().regex(NAME, 'must be lowercase letters, digits, dots and hyphens (reverse-domain style, e.g. com.acme.hello)').max(214, 'must be at most 214 characters'),
  publisher: text(128),
  version: z.string().refine((v) => semver.valid(v) === v, 'must be a semantic version such as 1.2.3 (no leading v)'),
  description: z.string().max(4096, 'must be at most 4096 characters').optional(),
  runtime: z.literal('wasm-js@1', { error: "must be 'wasm-js@1'" }),
  capabilities: z
    .array(capability)
    .default([])
    .superRefine((caps, ctx) => {
      const seen = new Set<string>();
      caps.forEach((cap, index) => {
        if (seen.has(cap)) ctx.addIssue({ code: 'custom', path: [index], message: `capability '${cap}' is listed twice` });
        seen.add(cap);
      });
    }),
  ui: z
    .strictObject({
      type: z.literal('iframe', { error: "must be 'iframe'" }),
      entry: z.string().superRefine((value, ctx) => {
        const check = checkEntryPath(value);
        if (check.kind === 'err') ctx.addIssue({ code: 'custom', message: `not a safe bundle path (${check.reason})` });
        else if (!value.startsWith('ui/')) ctx.addIssue({ code: 'custom', message: "must be a file under 'ui/', e.g. ui/index.html" });
      }),
      hooks: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  api: z
    .strictObject({
      endpoints: z.array(endpoint).superRefine((endpoints, ctx) => {
        const seen = new Set<string>();
        endpoints.forEach((e, index) => {
          // `:id` and `:name` in the same position route identically.
          const shape = `${e.method} ${e.path.replace(/:[^/]+/g, ':')}`;
          if (seen.has(shape)) ctx.addIssue({ code: 'custom', path: [index], message: `endpoint ${e.method} ${e.path} duplicates an earlier one` });
          seen.add(shape);
        });
      }),
    })
    .optional(),
  entry: z.literal('dist/main.wasm', { error: "must be 'dist/main.wasm' when given" }).optional(),
  assets: z.array(assetPattern).optional(),
  events: z.array(z.strictObject({ topic: text(256), handler: text(512) })).optional(),
  precompiled: z.record(z.string(), bundlePath).optional(),
  sbom: bundlePath.optional(),
});

export type Manifest = z.output<typeof manifestSchema>;

/** `warnings`: the unknown keys left out (empty when there were none). */
export type ManifestParse =
  | { readonly kind: 'ok'; readonly manifest: Manifest; readonly warnings: readonly ManifestProblem[] }
  | { readonly kind: 'err'; readonly problems: readonly ManifestProblem[]; readonly warnings: readonly ManifestProblem[] };

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out === '' ? '(root)' : out;
}

/** A copy of `value` without the key at `path` (`path` leads through objects and arrays). */
function without(value: unknown, path: readonly PropertyKey[], key: string): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (path.length === 0) {
    if (Array.isArray(value)) return value;
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    delete copy[key];
    return copy;
  }
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((item, index) => (index === head ? without(item, rest, key) : item));
  const record = value as Record<string, unknown>;
  return { ...record, [String(head)]: without(record[String(head)], rest, key) };
}

/** Validate an already-parsed JSON value: unknown keys become warnings, anything else a problem. */
export function parseManifest(value: unknown): ManifestParse {
  const warnings: ManifestProblem[] = [];
  let current = value;
  // unknown keys are removed and the value checked again; each round removes at least one key
  for (;;) {
    const result = manifestSchema.safeParse(current);
    if (result.success) return { kind: 'ok', manifest: result.data, warnings };
    const unknownKeys = result.error.issues.filter((issue) => issue.code === 'unrecognized_keys');
    if (unknownKeys.length > 0) {
      for (const issue of unknownKeys) {
        for (const key of issue.keys) {
          warnings.push({ path: formatPath([...issue.path, key]), message: 'unknown key, ignored' });
          current = without(current, issue.path, key);
        }
      }
      continue;
    }
    const problems: ManifestProblem[] = [];
    for (const issue of result.error.issues) {
      // zod's wording for a missing field ("expected string, received undefined") reads oddly here.
      const message = issue.code === 'invalid_type' && issue.message.endsWith('received undefined') ? 'is required' : issue.message;
      problems.push({ path: formatPath(issue.path), message });
    }
    return { kind: 'err', problems, warnings };
  }
}

/** Validate `manifest.json` bytes or text (JSON syntax errors are reported as a problem too). */
export function parseManifestJson(source: string | Uint8Array): ManifestParse {
  const textValue = typeof source === 'string' ? source : new TextDecoder('utf-8', { fatal: false }).decode(source);
  let value: unknown;
  try {
    value = JSON.parse(textValue);
  } catch (error) {
    return { kind: 'err', problems: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }], warnings: [] };
  }
  return parseManifest(value);
}
