/**
 * `alga-runner publish <bundle> --url URL --token TOKEN`: upload a bundle to a runner's admin API
 * (`POST {url}/admin/v1/extensions`, `application/zstd`). When `<bundle>.sig` exists it travels
 * along in the `x-alga-bundle-signature` header (the signature JSON, base64-encoded), so a
 * runner that requires signatures can check it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';

export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('upload a bundle to a runner (POST /admin/v1/extensions) and print its answer')
    .argument('<bundle>', 'bundle.tar.zst to upload')
    .requiredOption('--url <url>', 'runner base URL, e.g. http://127.0.0.1:8080')
    .option('--token <token>', 'admin token (default: $RUNNER_ADMIN_TOKEN)')
    .action(async (bundlePath: string, options: { url: string; token?: string }) => {
      const token = options.token ?? process.env.RUNNER_ADMIN_TOKEN;
      if (!token) {
        process.stderr.write('alga-runner publish: an admin token is needed (--token or RUNNER_ADMIN_TOKEN)\n');
        process.exitCode = 1;
        return;
      }
      const { SIGNATURE_FILE_SUFFIX, SIGNATURE_HEADER } = await import('../../bundle/signature.js');
      const body = await readFile(bundlePath);
      const headers: Record<string, string> = { 'content-type': 'application/zstd', authorization: `Bearer ${token}` };
      const signature = await readFile(`${bundlePath}${SIGNATURE_FILE_SUFFIX}`).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (signature) headers[SIGNATURE_HEADER] = signature.toString('base64');

      const url = `${options.url.replace(/\/+$/, '')}/admin/v1/extensions`;
      const response = await fetch(url, { method: 'POST', headers, body });
      const text = await response.text();
      let printable = text;
      try {
        printable = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: print it as it came
      }
      if (!response.ok) {
        process.stderr.write(`alga-runner publish: ${url} answered ${response.status}\n${printable}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${printable}\n`);
    });
}
