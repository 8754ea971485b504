/**
 * `alga-runner sign <bundle> --key KEY.pem`: validate the bundle, sign its content hash for the
 * manifest's publisher, and write `<bundle>.sig` beside it (format in src/bundle/signature.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';

export function registerSignCommand(program: Command): void {
  program
    .command('sign')
    .description('sign a bundle with an Ed25519 key; writes <bundle>.sig')
    .argument('<bundle>', 'bundle.tar.zst to sign')
    .requiredOption('--key <file>', 'private key PEM from `alga-runner keys new`')
    .action(async (bundlePath: string, options: { key: string }) => {
      // Loaded on use: `alga-runner --help` and other commands need not import the bundle code.
      const { SIGNATURE_FILE_SUFFIX, formatManifestProblems, readBundle, signContentHash } = await import('../../bundle/index.js');
      const bundle = await readBundle(await readFile(bundlePath));
      if (bundle.kind === 'err') {
        const { error } = bundle;
        process.stderr.write(`alga-runner sign: ${error.message}\n${error.problems ? `${formatManifestProblems(error.problems)}\n` : ''}`);
        process.exitCode = 1;
        return;
      }
      const signature = signContentHash(bundle.value.contentHash, await readFile(options.key, 'utf8'), bundle.value.manifest.publisher);
      const out = `${bundlePath}${SIGNATURE_FILE_SUFFIX}`;
      await writeFile(out, `${JSON.stringify(signature, null, 2)}\n`);
      process.stderr.write(`wrote ${out} (key ${signature.key_id}, publisher ${signature.publisher})\n`);
      process.stdout.write(`${bundle.value.contentHash}\n`);
    });
}
