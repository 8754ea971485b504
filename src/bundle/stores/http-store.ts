/**
 * Read-only bundles from an HTTP(S) server (a CDN, a static mirror of Alga's bucket) at
 * `${baseUrl}/${key}`. The body is read with a size cap and a timeout, then hash-checked.
 */
import { bundleError, type BundleResult } from '../errors.js';
import { DEFAULT_BUNDLE_LIMITS } from '../limits.js';
import { probeWithin, verifyFetched, type BundleStore, type StoreProbe, type StoredBundle } from './bundle-store.js';
import { bundleKey, type StoredFile } from './key-layout.js';

export interface HttpBundleStoreOptions {
  /** e.g. https://bundles.example.com/alga (no trailing slash needed) */
  readonly baseUrl: string;
  /** extra request headers, e.g. an authorization header for a private mirror */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export class HttpBundleStore implements BundleStore {
  readonly kind = 'http';
  private readonly baseUrl: string;

  constructor(private readonly options: HttpBundleStoreOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`HTTP bundle store needs an http(s) URL, got ${options.baseUrl}`);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): Promise<BundleResult<Uint8Array>> {
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    const url = `${this.baseUrl}/${key.value}`;
    const maxBytes = this.options.maxBytes ?? DEFAULT_BUNDLE_LIMITS.maxCompressedBytes;
    let response: Response;
    try {
      response = await fetch(url, { headers: this.options.headers, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (error) {
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `GET ${url}: ${(error as Error).message}`) };
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return { kind: 'err', error: bundleError('BUNDLE_NOT_FOUND', url) };
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `GET ${url} answered ${response.status}`) };
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await response.body?.cancel();
      return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `GET ${url} declares ${declared} bytes (limit ${maxBytes})`) };
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = response.body?.getReader();
    try {
      for (let step = await reader?.read(); step && !step.done; step = await reader?.read()) {
        total += step.value.byteLength;
        if (total > maxBytes) {
          await reader?.cancel();
          return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `GET ${url} sent more than ${maxBytes} bytes`) };
        }
        chunks.push(step.value);
      }
    } catch (error) {
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `GET ${url}: ${(error as Error).message}`) };
    }
    return verifyFetched(Buffer.concat(chunks), contentHash, `GET ${url}`);
  }

  async putBundle(_tenant: string, _extension: string, _bytes: Uint8Array, _file?: StoredFile): Promise<BundleResult<StoredBundle>> {
    return { kind: 'err', error: bundleError('BUNDLE_STORE_READ_ONLY', `the HTTP store at ${this.baseUrl} only reads`) };
  }

  /**
   * A HEAD of the base URL: any answer below 500 means the server is there (a static mirror may
   * well answer 403 or 404 for its root); no answer, or a 5xx, means it is not.
   */
  probe(timeoutMs: number): Promise<StoreProbe> {
    return probeWithin(timeoutMs, `HTTP store ${this.baseUrl}`, async (signal) => {
      const response = await fetch(`${this.baseUrl}/`, { method: 'HEAD', headers: this.options.headers, redirect: 'manual', signal });
      await response.body?.cancel();
      return response.status < 500 ? { ok: true } : { ok: false, detail: `HEAD ${this.baseUrl}/ answered ${response.status}` };
    });
  }
}
