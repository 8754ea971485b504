/**
 * `alga-runner keys new --out DIR [--publisher NAME]`: an Ed25519 signing key pair.
 * Writes DIR/signing-key.pem (private, mode 0600, never overwritten), DIR/signing-key.pub.pem
 * and DIR/trust.json (a trust bundle holding this key, to hand to operators).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { TrustFile } from '../../bundle/index.js';

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage bundle signing keys');
  keys
    .command('new')
    .description('create an Ed25519 signing key pair and a trust bundle entry for it')
    .requiredOption('--out <dir>', 'directory for signing-key.pem, signing-key.pub.pem and trust.json')
    .option('--publisher <name>', "publisher the key signs for (must match bundles' manifest publisher); omitted = any publisher")
    .action(async (options: { out: string; publisher?: string }) => {
      // Loaded on use: `alga-runner --help` and other commands need not import the bundle code.
      const { TRUST_FORMAT, generateSigningKeyPair, trustEntryFor } = await import('../../bundle/index.js');
      const pair = generateSigningKeyPair();
      await mkdir(options.out, { recursive: true });
      const privatePath = join(options.out, 'signing-key.pem');
      try {
        // 'wx': never replace an existing private key by accident.
        await writeFile(privatePath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        process.stderr.write(`alga-runner keys new: ${privatePath} already exists; not replacing it\n`);
        process.exitCode = 1;
        return;
      }
      const trust: TrustFile = { format: TRUST_FORMAT, keys: [trustEntryFor(pair.publicKeyPem, pair.keyId, options.publisher)] };
      await writeFile(join(options.out, 'signing-key.pub.pem'), pair.publicKeyPem);
      await writeFile(join(options.out, 'trust.json'), `${JSON.stringify(trust, null, 2)}\n`);
      process.stdout.write(`${pair.keyId}\n`);
    });
}
