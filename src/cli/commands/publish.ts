/**
 * `alga-runner publish <bundle>`: upload a bundle to a runner's admin API
 * (`POST {url}/admin/v1/extensions`, `application/zstd`), to the runner of `--url`/`--token`,
 * RUNNER_URL/RUNNER_ADMIN_TOKEN or the saved profile. When `<bundle>.sig` exists it travels along in
 * the `x-alga-bundle-signature` header (the signature JSON, base64-encoded), so a runner that
 * requires signatures can check it. A bare component (`.wasm`) is refused with the way forward:
 * `pack` makes the bundle that carries its manifest (name, version, capabilities, UI).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { describeError } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { resolveTarget, type TargetFlags } from '../admin/profile.js';

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('upload a bundle to a runner (POST /admin/v1/extensions) and print its answer')
    .argument('<bundle>', 'bundle.tar.zst to upload (made by `alga-runner pack`)')
    .option('--url <url>', 'runner base URL, e.g. http://127.0.0.1:8080 (default: $RUNNER_URL, else the profile)')
    .option('--token <token>', 'admin token (default: $RUNNER_ADMIN_TOKEN, else the profile)')
    .option('--profile <name>', 'profile saved by `alga-runner login`')
    .action(async (bundlePath: string, options: TargetFlags) => {
      const target = await resolveTarget(options).catch((e: unknown) => {
        throw e instanceof CliFailure ? new CliFailure(`publish: ${e.message}`) : e;
      });
      const { SIGNATURE_FILE_SUFFIX, SIGNATURE_HEADER } = await import('../../bundle/signature.js');
      const body = await readFile(bundlePath);
      if (body.subarray(0, 4).equals(WASM_MAGIC))
        throw new CliFailure(
          `publish: ${bundlePath} is a bare WebAssembly component, not a bundle: run \`alga-runner pack <dir>\` first (manifest.json + dist/main.wasm + ui/ → bundle.tar.zst), then publish that`,
        );
      const headers: Record<string, string> = { 'content-type': 'application/zstd', authorization: `Bearer ${target.token}` };
      const signature = await readFile(`${bundlePath}${SIGNATURE_FILE_SUFFIX}`).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (signature) headers[SIGNATURE_HEADER] = signature.toString('base64');

      const url = `${target.url}/admin/v1/extensions`;
      let response: Response;
      try {
        response = await fetch(url, { method: 'POST', headers, body });
      } catch (e) {
        throw new CliFailure(`publish: cannot reach ${target.url}: ${e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e)}`);
      }
      const text = await response.text();
      if (!response.ok) throw new CliFailure(`publish: ${url} answered ${response.status}: ${describeError(response.status, text)}`);
      let printable = text;
      try {
        printable = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: print it as it came
      }
      process.stdout.write(`${printable}\n`);
    });
}
