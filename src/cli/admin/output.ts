/** How operator commands print: a table (or lines) for people, `--json` for scripts. */
import type { Command } from 'commander';
import type { TargetFlags } from './profile.js';

export interface OutputFlags {
  json?: boolean;
}

/** The flags every operator command takes: where to send the call, and how to print the answer. */
export function targetOptions(command: Command): Command {
  return command
    .option('--url <url>', 'runner base URL (default: $RUNNER_URL, else the profile)')
    .option('--token <token>', 'admin token (default: $RUNNER_ADMIN_TOKEN, else the profile)')
    .option('--profile <name>', 'profile saved by `alga-runner login` (default: $RUNNER_PROFILE, else the current one)')
    .option('--json', 'print the API answer as JSON (for scripts)');
}

export type CommonFlags = TargetFlags & OutputFlags;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns padded to their widest cell; `-` for an empty one. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [header, ...rows].map((row) => row.map((c) => (c === '' ? '-' : c)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return `${cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** `key: value` lines, keys aligned. */
export function fields(entries: readonly (readonly [string, string])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return `${entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n')}\n`;
}
