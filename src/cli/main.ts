/**
 * `alga-runner` command line (README.md "Command line"). Each command lives in `commands/<name>.ts` and
 * exports `register(program)`; this file only assembles them.
 */
import { Command } from 'commander';
import { commands } from './commands/index.js';

const program = new Command('alga-runner').description('Run Alga PSA WebAssembly extensions: isolated, limited, observable').showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`alga-runner: ${message}\n`);
  process.exitCode = 2;
});
