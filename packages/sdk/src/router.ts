/**
 * A small router for the component's one export: `app.get('/notes/:id', (req, ctx) => …)`, then
 * `export const handler = app.handler`. Unknown paths answer 404, known paths with another method
 * 405 (with `allow`), a body that is not JSON 400, and a handler that throws 500 (logged).
 */
import type { ContextData, ExecuteRequest } from './generated/seed.js';
import { problem, type Response } from './responses.js';
import { currentHost } from './host.js';

const decoder = new TextDecoder();

/** Thrown inside a handler (or by `req.json()`), answered as `{ error: code, message }` with its status. */
export class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message?: string,
  ) {
    super(message ?? code);
  }
}

export interface Request<Params extends Record<string, string> = Record<string, string>> {
  /** upper-case */
  readonly method: string;
  readonly path: string;
  /** the path and query as the host sent them */
  readonly url: string;
  readonly query: URLSearchParams;
  /** the `:name` segments of the route, decoded */
  readonly params: Params;
  /** header names lower-cased */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array | undefined;
  /** the body as UTF-8 text ('' without a body) */
  text(): string;
  /** the body as JSON; throws RouteError 400 `invalid_json` (answered for you) when it is not */
  json<T = unknown>(): T;
  /** the request exactly as the host sent it */
  readonly raw: ExecuteRequest;
}

/** Who the call is for: from the request itself, so it needs no capability. */
export interface Context {
  readonly tenantId: string;
  readonly extensionId: string;
  readonly installId: string | undefined;
  readonly requestId: string | undefined;
  readonly versionId: string | undefined;
  readonly raw: ContextData;
}

export type RouteHandler<Params extends Record<string, string> = Record<string, string>> = (req: Request<Params>, ctx: Context) => Response | Promise<Response>;

/** `/notes/:id` → { id: string }; a trailing `/*` → { '*': string } */
type ParamNames<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? Name
    : Path extends `${string}/*`
      ? '*'
      : never;
export type RouteParams<Path extends string> = { [K in ParamNames<Path>]: string };

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function match(segments: readonly string[], parts: readonly string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '*') {
      params['*'] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (segment.startsWith(':')) params[segment.slice(1)] = part;
    else if (segment !== part) return null;
  }
  return parts.length === segments.length ? params : null;
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      throw new RouteError(400, 'bad_path', `path segment '${value}' is not valid percent-encoding`);
    }
  }
  return out;
}

function makeRequest(raw: ExecuteRequest, url: URL, params: Record<string, string>): Request {
  const headers = new Map<string, string>();
  for (const h of raw.http.headers) {
    const name = h.name.toLowerCase();
    headers.set(name, headers.has(name) ? `${headers.get(name)!}, ${h.value}` : h.value);
  }
  const body = raw.http.body;
  return {
    method: raw.http.method.toUpperCase(),
    path: url.pathname,
    url: raw.http.url,
    query: url.searchParams,
    params,
    headers,
    body,
    text: () => (body ? decoder.decode(body) : ''),
    json: <T>() => {
      try {
        return JSON.parse(body ? decoder.decode(body) : '') as T;
      } catch {
        throw new RouteError(400, 'invalid_json', 'the request body is not JSON');
      }
    },
    raw,
  };
}

function makeContext(raw: ContextData): Context {
  return { tenantId: raw.tenantId, extensionId: raw.extensionId, installId: raw.installId, requestId: raw.requestId, versionId: raw.versionId, raw };
}

/** Logging may be denied or absent (outside a component); a failed log must not hide the error. */
function logError(message: string): void {
  try {
    currentHost().logging.error(message);
  } catch {
    // nothing more to do: the 500 still answers
  }
}

export class App {
  private readonly routes: Route[] = [];

  /** The component's export: `export const handler = app.handler`. */
  readonly handler = (request: ExecuteRequest): Response | Promise<Response> => this.dispatch(request);

  get<P extends string>(path: P, handler: RouteHandler<RouteParams<P>>): this {
    return this.on('GET', path, handler);
  }
  post<P extends string>(path: P, handler: RouteHandler<RouteParams<P>>): this {
    return this.on('POST', path, handler);
  }
  put<P extends string>(path: P, handler: RouteHandler<RouteParams<P>>): this {
    return this.on('PUT', path, handler);
  }
  patch<P extends string>(path: P, handler: RouteHandler<RouteParams<P>>): this {
    return this.on('PATCH', path, handler);
  }
  delete<P extends string>(path: P, handler: RouteHandler<RouteParams<P>>): this {
    return this.on('DELETE', path, handler);
  }

  /** A route for any method name (upper-cased); `*` as the last segment matches the rest of the path. */
  on<P extends string>(method: string, path: P, handler: RouteHandler<RouteParams<P>>): this {
    if (!path.startsWith('/')) throw new Error(`route path must start with '/': '${path}'`);
    const segments = splitPath(path);
    if (segments.slice(0, -1).includes('*')) throw new Error(`'*' may only be the last segment of a route: '${path}'`);
    this.routes.push({ method: method.toUpperCase(), segments, handler: handler as unknown as RouteHandler });
    return this;
  }

  /** Answers one request: the first route whose method and path match. */
  dispatch(request: ExecuteRequest): Response | Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.http.url, 'http://extension.invalid');
    } catch {
      return problem(400, 'bad_url', `cannot read the request URL '${request.http.url}'`);
    }
    const method = request.http.method.toUpperCase();
    const parts = splitPath(url.pathname);
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const params = match(route.segments, parts);
      if (!params) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.add(route.method);
        continue;
      }
      return this.run(route, request, url, params);
    }
    if (allowed.size > 0) {
      const answer = problem(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`);
      return { ...answer, headers: [...answer.headers, { name: 'allow', value: [...allowed].sort().join(', ') }] };
    }
    return problem(404, 'not_found', `no route for ${method} ${url.pathname}`);
  }

  private run(route: Route, request: ExecuteRequest, url: URL, params: Record<string, string>): Response | Promise<Response> {
    const failed = (thrown: unknown): Response => {
      if (thrown instanceof RouteError) return problem(thrown.status, thrown.code, thrown.message === thrown.code ? undefined : thrown.message);
      // SpiderMonkey's `stack` holds only the frames: the message goes first
      const detail = thrown instanceof Error ? `${thrown.name}: ${thrown.message}${thrown.stack ? `\n${thrown.stack}` : ''}` : String(thrown);
      logError(`unhandled error in ${route.method} ${url.pathname}: ${detail}`);
      return problem(500, 'internal', 'the extension failed; see its log');
    };
    try {
      const answer = route.handler(makeRequest(request, url, decodeParams(params)), makeContext(request.context));
      return answer instanceof Promise ? answer.catch(failed) : answer;
    } catch (thrown) {
      return failed(thrown);
    }
  }
}

export function createApp(): App {
  return new App();
}
