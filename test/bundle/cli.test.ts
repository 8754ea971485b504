/** The author commands, run as a user runs them: `node bin/alga-runner.js ...` after the build. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTrustBundle, parseSignature, readBundle, verifyBundleSignature } from '../../src/bundle/index.js';
import { manifest, WASM, withTempDir } from './fixtures.js';

const bin = fileURLToPath(new URL('../../../bin/alga-runner.js', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, RUNNER_ADMIN_TOKEN: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function writeSource(dir: string, manifestValue: Record<string, unknown> = manifest()): Promise<void> {
  await mkdir(join(dir, 'dist'), { recursive: true });
  await mkdir(join(dir, 'ui', 'assets'), { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifestValue, null, 2));
  await writeFile(join(dir, 'dist', 'main.wasm'), WASM);
  await writeFile(join(dir, 'ui', 'index.html'), '<!doctype html><script src="assets/app.js"></script>');
  await writeFile(join(dir, 'ui', 'assets', 'app.js'), 'console.log("hi")');
  await writeFile(join(dir, 'ui', '.DS_Store'), 'junk');
}

describe('author commands', () => {
  it('pack → read round trip, deterministic, printing the content hash', async () => {
    await withTempDir(async (dir) => {
      await writeSource(dir);
      const out = join(dir, 'out.tar.zst');
      const packed = await cli(['pack', dir, '--out', out]);
      assert.equal(packed.code, 0, packed.stderr);
      assert.match(packed.stderr, /skipped hidden ui\/\.DS_Store/);
      const bytes = await readFile(out);
      const read = await readBundle(bytes);
      assert.equal(read.kind, 'ok');
      if (read.kind !== 'ok') return;
      assert.equal(packed.stdout.trim(), read.value.contentHash);
      assert.deepEqual(Buffer.from(read.value.mainWasm ?? []), WASM);
      assert.deepEqual([...read.value.uiFiles.keys()], ['ui/assets/app.js', 'ui/index.html']);
      assert.equal(read.value.manifest.version, '1.2.3');

      const again = await cli(['pack', dir]);
      assert.equal(again.stdout, packed.stdout, 'packing the same sources gives the same hash');
      assert.deepEqual(await readFile(join(dir, 'bundle.tar.zst')), bytes);
    });
  });

  it('pack refuses an invalid manifest with every problem listed', async () => {
    await withTempDir(async (dir) => {
      await writeSource(dir, manifest({ version: '1.0', capabilities: ['cap:teleport'], extra: true }));
      const packed = await cli(['pack', dir]);
      assert.equal(packed.code, 1);
      assert.equal(packed.stdout, '');
      assert.match(packed.stderr, /version: must be a semantic version/);
      assert.match(packed.stderr, /capabilities\[0\]: unknown capability 'cap:teleport'/);
      assert.doesNotMatch(packed.stderr, /extra/, 'an unknown key is no problem');
      await assert.rejects(stat(join(dir, 'bundle.tar.zst')), /ENOENT/);
    });
  });

  it('keys new → sign → verify against the written trust bundle', async () => {
    await withTempDir(async (dir) => {
      await writeSource(dir);
      assert.equal((await cli(['pack', dir])).code, 0);
      const keysDir = join(dir, 'keys');
      const made = await cli(['keys', 'new', '--out', keysDir, '--publisher', 'Acme']);
      assert.equal(made.code, 0, made.stderr);
      assert.equal((await stat(join(keysDir, 'signing-key.pem'))).mode & 0o777, 0o600);
      const keyId = made.stdout.trim();
      assert.match(keyId, /^ed25519:[0-9a-f]{16}$/);
      const refused = await cli(['keys', 'new', '--out', keysDir]);
      assert.equal(refused.code, 1, 'an existing private key is never replaced');

      const bundlePath = join(dir, 'bundle.tar.zst');
      const signed = await cli(['sign', bundlePath, '--key', join(keysDir, 'signing-key.pem')]);
      assert.equal(signed.code, 0, signed.stderr);
      const signature = parseSignature(await readFile(`${bundlePath}.sig`, 'utf8'));
      assert.equal(signature.kind, 'ok');
      const trust = await loadTrustBundle(join(keysDir, 'trust.json'));
      assert.equal(trust.kind, 'ok');
      if (signature.kind !== 'ok' || trust.kind !== 'ok') return;
      assert.equal(signature.signature.key_id, keyId);
      assert.deepEqual(verifyBundleSignature(signed.stdout.trim(), signature.signature, trust.trust), { kind: 'ok', publisher: 'Acme', keyId });
    });
  });

  it('publish POSTs the bundle (and its signature) and fails on HTTP errors', async () => {
    await withTempDir(async (dir) => {
      await writeSource(dir);
      assert.equal((await cli(['pack', dir])).code, 0);
      const bundlePath = join(dir, 'bundle.tar.zst');
      const bytes = await readFile(bundlePath);
      const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
      let status = 201;
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify(status === 201 ? { extension_id: 'e1', version_id: 'v1', content_hash: 'sha256:x' } : { error: 'conflict' }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const ok = await cli(['publish', bundlePath, '--url', url, '--token', 'secret-token']);
        assert.equal(ok.code, 0, ok.stderr);
        assert.deepEqual(JSON.parse(ok.stdout), { extension_id: 'e1', version_id: 'v1', content_hash: 'sha256:x' });
        assert.equal(seen[0]?.method, 'POST');
        assert.equal(seen[0]?.url, '/admin/v1/extensions');
        assert.equal(seen[0]?.headers['content-type'], 'application/zstd');
        assert.equal(seen[0]?.headers.authorization, 'Bearer secret-token');
        assert.equal(seen[0]?.headers['x-alga-bundle-signature'], undefined);
        assert.deepEqual(seen[0]?.body, bytes);

        await writeFile(`${bundlePath}.sig`, '{"signed":true}');
        status = 409;
        const conflict = await cli(['publish', bundlePath, '--url', `${url}/`], { RUNNER_ADMIN_TOKEN: 'env-token' });
        assert.equal(conflict.code, 1);
        assert.match(conflict.stderr, /answered 409/);
        assert.equal(seen[1]?.headers.authorization, 'Bearer env-token');
        assert.equal(Buffer.from(String(seen[1]?.headers['x-alga-bundle-signature']), 'base64').toString(), '{"signed":true}');

        const noToken = await cli(['publish', bundlePath, '--url', url]);
        assert.equal(noToken.code, 1);
        assert.equal(seen.length, 2, 'nothing is sent without a token');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });
});
