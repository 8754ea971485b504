/** `alga-runner pack <dir> [--out FILE]`: manifest + dist/main.wasm (none for a UI-only extension) + ui/** → bundle.tar.zst. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';

export function registerPackCommand(program: Command): void {
  program
    .command('pack')
    .description('validate <dir>/manifest.json and pack it with dist/main.wasm and ui/** into a bundle (a manifest with a ui and no api may have no dist/main.wasm: UI-only); prints the content hash')
    .argument('<dir>', 'extension source directory')
    .option('--out <file>', 'bundle to write (default: <dir>/bundle.tar.zst)')
    .action(async (dir: string, options: { out?: string }) => {
      // Loaded on use: `alga-runner --help` and other commands need not import the bundle code.
      const { formatManifestProblems, packBundleDirectory } = await import('../../bundle/index.js');
      const packed = await packBundleDirectory(dir);
      if (packed.kind === 'err') {
        const { error } = packed;
        process.stderr.write(`alga-runner pack: ${error.message}\n${error.problems ? `${formatManifestProblems(error.problems)}\n` : ''}`);
        process.exitCode = 1;
        return;
      }
      const out = options.out ?? join(dir, 'bundle.tar.zst');
      await writeFile(out, packed.value.bytes);
      for (const path of packed.value.skipped) process.stderr.write(`skipped hidden ${path}\n`);
      if (packed.value.manifestWarnings.length > 0) process.stderr.write(`warning: manifest.json\n${formatManifestProblems(packed.value.manifestWarnings)}\n`);
      const uiOnly = packed.value.uiOnly ? ', UI-only: no component' : '';
      process.stderr.write(`wrote ${out} (${packed.value.bytes.byteLength} bytes, ${packed.value.manifest.name}@${packed.value.manifest.version}${uiOnly})\n`);
      process.stdout.write(`${packed.value.contentHash}\n`);
    });
}
