/**
 * `GET /ext-ui/{extensionId}/{contentHash}/{path}` against a real service: the
 * demo bundle packed by `alga-runner pack` (plus a few extra UI files), uploaded and installed
 * through the admin API, fetched over raw HTTP so headers and bytes are seen as sent.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { admin, createInstall, exampleBytes, startTestService, type ErrorBody, type Registered, type TestService } from '../service/harness.js';
import { loadConfig } from '../../src/service/config.js';
import { contentSecurityPolicy } from '../../src/service/routes/ext-ui.js';
import { packDemo, repoRoot, type PackedDemo } from './demo-bundle.js';

const FRAME_ANCESTORS = "'self' https://alga.example.com";
const BIG_JS = Array.from({ length: 800 }, (_, i) => `export const line${i} = 'the demo extension says hello, number ${i}';`).join('\n');
const PICTURE = randomBytes(2048);
const TINY_CSS = 'p{margin:0}';

let svc: TestService;
let demo: PackedDemo;
let ext: Registered;
let installId: string;
let base: string;

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET (or HEAD) with exactly these headers and this path, undecoded, unnormalised. */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const { hostname, port } = new URL(svc.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const errorCode = (r: Raw) => (JSON.parse(r.body.toString('utf8')) as ErrorBody).error.code;
const uiFile = (path: string) => readFile(join(repoRoot, 'examples', 'demo', 'ui', path));

before(async () => {
  [svc, demo] = await Promise.all([
    startTestService({ examples: ['demo'], env: { RUNNER_UI_FRAME_ANCESTORS: FRAME_ANCESTORS } }),
    packDemo({ uiFiles: { 'assets/big.js': BIG_JS, 'img/picture.png': PICTURE, 'tiny.css': TINY_CSS, 'data.json': '{"ok":true}', 'tool.exe': 'MZ not for browsers' } }),
  ]);
  const uploaded = await admin<Registered>(svc, 'POST', '/admin/v1/extensions', new Uint8Array(demo.bytes), { 'content-type': 'application/zstd' });
  assert.equal(uploaded.status, 201, JSON.stringify(uploaded.json));
  ext = uploaded.json;
  installId = await createInstall(svc, { tenant_id: 'demo', extension_id: ext.extension_id });
  base = `/ext-ui/${ext.extension_id}/${ext.content_hash}`;
});
after(async () => {
  await Promise.all([svc?.close(), demo?.cleanup()]);
});

describe('serving UI files', () => {
  test('index.html: the bytes, its type, immutable caching, a strong ETag, nosniff and the CSP', async () => {
    const r = await raw(`${base}/index.html`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, await uiFile('index.html'));
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['content-length'], String(r.body.byteLength));
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.match(r.headers.etag ?? '', /^"[A-Za-z0-9_-]+"$/, 'a strong ETag');
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /(^|; )default-src 'none'(;|$)/);
    assert.match(csp, /(^|; )script-src 'self'/);
    assert.match(csp, /(^|; )connect-src 'self'(;|$)/);
    assert.ok(csp.endsWith(`frame-ancestors ${FRAME_ANCESTORS}`), csp);
  });

  test('other files get their own type: js, css, json, png', async () => {
    for (const [path, type, bytes] of [
      ['app.js', 'text/javascript; charset=utf-8', await uiFile('app.js')],
      ['tiny.css', 'text/css; charset=utf-8', Buffer.from(TINY_CSS)],
      ['data.json', 'application/json; charset=utf-8', Buffer.from('{"ok":true}')],
      ['img/picture.png', 'image/png', PICTURE],
    ] as const) {
      const r = await raw(`${base}/${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], type, path);
      assert.deepEqual(r.body, bytes, path);
    }
  });

  test('HEAD answers the headers without the body', async () => {
    const r = await raw(`${base}/assets/big.js`, {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(BIG_JS)));
    assert.equal(r.body.byteLength, 0);
  });

  test('only allow-listed file types are served, even when the bundle holds others', async () => {
    const r = await raw(`${base}/tool.exe`);
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'not_found');
    assert.equal((await raw(`${base}/missing.js`)).status, 404, 'a missing file with an extension does not fall back');
  });

  test('extension-less paths fall back to index.html (single-page apps); nothing else does', async () => {
    const index = await uiFile('index.html');
    for (const path of ['', 'settings', 'settings/profile', 'assets']) {
      const r = await raw(`${base}/${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', path);
      assert.deepEqual(r.body, index, path);
    }
  });
});

describe('validators and caching', () => {
  test('If-None-Match with the ETag is 304 without a body; another ETag is 200', async () => {
    const first = await raw(`${base}/app.js`);
    const etag = first.headers.etag!;
    const notModified = await raw(`${base}/app.js`, { 'if-none-match': etag });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.byteLength, 0);
    assert.equal(notModified.headers.etag, etag);
    assert.equal(notModified.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal((await raw(`${base}/app.js`, { 'if-none-match': `"other", W/${etag}` })).status, 304, 'a list, and the weak form, match too');
    assert.equal((await raw(`${base}/app.js`, { 'if-none-match': '"other"' })).status, 200);
  });

  test('ETags differ by path and by content coding, and a fallback shares the entry ETag', async () => {
    const js = (await raw(`${base}/app.js`)).headers.etag;
    const html = (await raw(`${base}/index.html`)).headers.etag;
    const spa = (await raw(`${base}/settings`)).headers.etag;
    const brotli = (await raw(`${base}/assets/big.js`, { 'accept-encoding': 'br' })).headers.etag;
    const plain = (await raw(`${base}/assets/big.js`)).headers.etag;
    assert.notEqual(js, html);
    assert.equal(spa, html);
    assert.notEqual(brotli, plain, 'a compressed body is another representation');
    assert.equal((await raw(`${base}/assets/big.js`, { 'accept-encoding': 'br', 'if-none-match': brotli! })).status, 304);
    assert.equal((await raw(`${base}/assets/big.js`, { 'if-none-match': brotli! })).status, 200, 'the br ETag does not validate the identity body');
  });

  test('immutable caching is only for served UI files: errors and API answers are no-store', async () => {
    for (const path of [`${base}/tool.exe`, `${base}/missing.js`, `/ext-ui/${ext.extension_id}/sha256:${'0'.repeat(64)}/index.html`, '/healthz', '/readyz']) {
      const r = await raw(path);
      assert.equal(r.headers['cache-control'], 'no-store', `${path} → ${r.status}`);
    }
    const listed = await admin(svc, 'GET', '/admin/v1/extensions');
    assert.equal(listed.headers.get('cache-control'), 'no-store');
    const gateway = await fetch(`${svc.url}/api/ext/${ext.extension_id}/hello`);
    assert.equal(gateway.status, 200);
    assert.equal(gateway.headers.get('cache-control'), 'no-store');
  });
});

describe('compression', () => {
  test('br and gzip by Accept-Encoding (q-values respected), Vary set, bytes intact', async (t) => {
    const br = await raw(`${base}/assets/big.js`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'accept-encoding');
    assert.equal(brotliDecompressSync(br.body).toString('utf8'), BIG_JS);
    const gzip = await raw(`${base}/assets/big.js`, { 'accept-encoding': 'br;q=0.5, gzip' });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gzip.body).toString('utf8'), BIG_JS);
    const plain = await raw(`${base}/assets/big.js`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString('utf8'), BIG_JS);
    const identityOnly = await raw(`${base}/assets/big.js`, { 'accept-encoding': 'identity' });
    assert.equal(identityOnly.headers['content-encoding'], undefined);
    assert.ok(br.body.byteLength * 10 < plain.body.byteLength, `br ${br.body.byteLength} vs ${plain.body.byteLength} bytes`);
    t.diagnostic(`big.js: ${plain.body.byteLength} bytes, br ${br.body.byteLength}, gzip ${gzip.body.byteLength}`);
  });

  test('images and tiny files are sent as they are', async () => {
    const png = await raw(`${base}/img/picture.png`, { 'accept-encoding': 'br, gzip' });
    assert.equal(png.headers['content-encoding'], undefined);
    assert.equal(png.headers.vary, undefined);
    assert.deepEqual(png.body, PICTURE);
    const tiny = await raw(`${base}/tiny.css`, { 'accept-encoding': 'br, gzip' });
    assert.equal(tiny.headers['content-encoding'], undefined);
    assert.equal(tiny.body.toString('utf8'), TINY_CSS);
  });
});

describe('ranges', () => {
  const size = Buffer.byteLength(BIG_JS);

  test('a byte range is 206 with Content-Range, from the identity body even when compression is accepted', async () => {
    const r = await raw(`${base}/assets/big.js`, { range: 'bytes=10-29', 'accept-encoding': 'br, gzip' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 10-29/${size}`);
    assert.equal(r.headers['content-length'], '20');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString('utf8'), BIG_JS.slice(10, 30));
    const suffix = await raw(`${base}/assets/big.js`, { range: 'bytes=-7' });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.body.toString('utf8'), BIG_JS.slice(-7));
    const open = await raw(`${base}/assets/big.js`, { range: `bytes=${size - 3}-` });
    assert.equal(open.headers['content-range'], `bytes ${size - 3}-${size - 1}/${size}`);
  });

  test('an unsatisfiable range is 416 with the size; several ranges or a malformed one get the whole file', async () => {
    const r = await raw(`${base}/assets/big.js`, { range: `bytes=${size}-` });
    assert.equal(r.status, 416);
    assert.equal(r.headers['content-range'], `bytes */${size}`);
    assert.notEqual(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    for (const range of ['bytes=0-1,10-11', 'pages=1-2', 'bytes=oops']) {
      const whole = await raw(`${base}/assets/big.js`, { range });
      assert.equal(whole.status, 200, range);
      assert.equal(whole.body.toString('utf8'), BIG_JS, range);
    }
  });

  test('If-Range: the range only when the ETag still matches', async () => {
    const etag = (await raw(`${base}/assets/big.js`)).headers.etag!;
    assert.equal((await raw(`${base}/assets/big.js`, { range: 'bytes=0-4', 'if-range': etag })).status, 206);
    const stale = await raw(`${base}/assets/big.js`, { range: 'bytes=0-4', 'if-range': '"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.toString('utf8'), BIG_JS);
  });
});

describe('path sanitising', () => {
  test('traversal, hidden, backslash and control-character paths are 400; nothing outside ui/ is reachable', async () => {
    for (const path of ['../manifest.json', '..%2fmanifest.json', '%2e%2e/%2e%2e/manifest.json', 'assets/..%2F..%2Fmanifest.json', '.hidden.js', 'a%5Cb.js', 'a%00.js', './index.html', 'a//b.js']) {
      const r = await raw(`${base}/${path}`);
      assert.equal(r.status, 400, `${path} → ${r.status} ${r.body.toString('utf8')}`);
      assert.equal(errorCode(r), 'invalid_request', path);
    }
    // malformed percent-encoding is refused by the router before the route runs
    assert.equal((await raw(`${base}/%E0%A4%A.js`)).status, 400);
    // names of files outside ui/ resolve under ui/, where they are not
    for (const path of ['manifest.json', 'dist/main.wasm']) assert.equal((await raw(`${base}/${path}`)).status, 404, path);
  });
});

describe('which versions are served', () => {
  test('unknown extension, malformed hash, or another extension’s version: 404', async () => {
    const unknown = await raw(`/ext-ui/00000000-0000-0000-0000-000000000000/${ext.content_hash}/index.html`);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'extension_not_found');
    const malformed = await raw(`/ext-ui/${ext.extension_id}/sha256:xyz/index.html`);
    assert.equal(malformed.status, 404);
    assert.equal(errorCode(malformed), 'version_not_found');
    const other = await admin<Registered>(svc, 'POST', '/admin/v1/extensions?name=bare-ok&version=1.0.0', new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(other.status, 201);
    const foreign = await raw(`/ext-ui/${ext.extension_id}/${other.json.content_hash}/index.html`);
    assert.equal(foreign.status, 404);
    assert.equal(errorCode(foreign), 'version_not_found');
  });

  test('a version no install runs is not served; a bare component version has no UI', async () => {
    const bare = await admin<Registered>(svc, 'POST', '/admin/v1/extensions?name=bare-ok&version=1.0.0', new Uint8Array(exampleBytes('wat-ok')));
    const path = `/ext-ui/${bare.json.extension_id}/${bare.json.content_hash}/index.html`;
    const uninstalled = await raw(path);
    assert.equal(uninstalled.status, 404);
    assert.equal(errorCode(uninstalled), 'version_not_found');
    await createInstall(svc, { tenant_id: 'demo', extension_id: bare.json.extension_id });
    const noUi = await raw(path);
    assert.equal(noUi.status, 404);
    assert.equal(errorCode(noUi), 'not_found');
  });

  test('a disabled install stops the UI; enabling it again serves it', async () => {
    const disabled = await admin(svc, 'PATCH', `/admin/v1/installs/${installId}`, { enabled: false });
    assert.equal(disabled.status, 200);
    const refused = await raw(`${base}/index.html`);
    assert.equal(refused.status, 404);
    assert.equal(errorCode(refused), 'version_not_found');
    assert.equal((await admin(svc, 'PATCH', `/admin/v1/installs/${installId}`, { enabled: true })).status, 200);
    assert.equal((await raw(`${base}/index.html`)).status, 200);
  });

  test('the bundle is extracted once into the data dir and served from there', async () => {
    const extracted = join(svc.dataDir, 'extracted', `sha256-${ext.content_hash.slice('sha256:'.length)}`, 'ui', 'assets', 'big.js');
    assert.equal(await readFile(extracted, 'utf8'), BIG_JS);
  });
});

describe('RUNNER_UI_FRAME_ANCESTORS', () => {
  test("defaults to 'self'; a value that would add directives is refused at start", () => {
    assert.ok(contentSecurityPolicy(loadConfig({}, {}).uiFrameAncestors).endsWith("frame-ancestors 'self'"));
    for (const bad of ["'self'; script-src *", "'self'\r\nx-evil: 1", "'self', https://x"]) {
      assert.throws(() => contentSecurityPolicy(bad), /RUNNER_UI_FRAME_ANCESTORS/, JSON.stringify(bad));
    }
  });
});
