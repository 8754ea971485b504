/**
 * `alga-runner run <component.wasm | bundle.tar.zst> ...`: one request, in-process,
 * on a throw-away embedded store. Prints `{status, headers, body | body_b64}` as JSON.
 * Exit codes: 0 the guest answered; 1 the guest faulted (trap, timeout, limit); 2 bad input.
 */
import type { Command } from 'commander';
import type { RunOnceOptions } from '../run-once.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('execute one request against a component or bundle on a throw-away embedded store and print the response as JSON')
    .argument('<file>', 'component (.wasm) or bundle (.tar.zst)')
    .option('--method <method>', 'HTTP method the guest sees', 'GET')
    .option('--path <path>', 'path (and query) the guest sees', '/')
    .option('-H, --header <header>', "request header 'name: value' (repeatable)", collect, [])
    .option('--body <text>', 'request body, or @file to read it from a file')
    .option('--tenant <tenant>', 'tenant id', 'local')
    .option('--grant <cap>', 'grant a capability, e.g. cap:storage.kv (repeatable)', collect, [])
    .option('--secret <k=v>', 'install secret (repeatable)', collect, [])
    .option('--allow-host <pattern>', 'egress allowlist entry, e.g. https://*.example.com (repeatable)', collect, [])
    .option('--config <k=v>', 'install config value (repeatable)', collect, [])
    .option('--timeout-ms <ms>', 'execution deadline', (v) => Number.parseInt(v, 10))
    .option('--memory-mb <mb>', 'guest memory cap', (v) => Number.parseInt(v, 10))
    .addHelpText(
      'after',
      '\nExit status: 0 when the guest answered, 1 when it faulted (the JSON then has `error`), 2 for bad input.\nGuest logs (logging, stdout, stderr) go to stderr, one JSON record per line.',
    )
    .action(async (file: string, options: RunOnceOptions) => {
      const { runOnce } = await import('../run-once.js');
      process.exitCode = await runOnce(file, options, { stdout: process.stdout, stderr: process.stderr });
    });
}
