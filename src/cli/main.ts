/**
 * `alga-runner` command line (README.md "Command line"). Each command lives in `commands/<name>.ts` and
 * exports `register(program)`; this file only assembles them.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CliFailure } from './admin/failure.js';
import { commands } from './commands/index.js';

// dist/src/cli/main.js → the package's package.json
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('alga-runner')
  .description('Run Alga PSA WebAssembly extensions: isolated, limited, observable')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  // an expected failure (an API error, bad input) is its message; anything else is a bug, exit 2
  if (error instanceof CliFailure) {
    process.stderr.write(`alga-runner: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`alga-runner: ${message}\n`);
  process.exitCode = 2;
});
