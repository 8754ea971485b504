/**
 * The `alga-runner` command as an author runs it: a real process of bin/alga-runner.js. `runCli`
 * waits for it to exit; `startCli` keeps it running (dev, serve) and lets a test wait for what it
 * prints, by event, never by sleeping.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliPath = join(repoRoot, 'bin', 'alga-runner.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a command run by an author: no test runner's context leaks into it. */
export function authorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

export function runCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = authorEnv()): Promise<CliResult> {
  return runProcess(process.execPath, [cliPath, ...args], cwd, env);
}

export function runProcess(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = authorEnv()): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export class RunningCli {
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = once(child, 'close').then(([code]) => code as number | null);
  }

  /**
   * Resolves with the first match of `pattern` in what the stream printed after `from` characters
   * (default: from the start); rejects if the process exits first.
   */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this[stream].slice(from));
        if (!match) return false;
        this.child[stream].off('data', onData);
        this.child.off('close', onClose);
        resolve(match);
        return true;
      };
      const onData = () => setImmediate(check);
      const onClose = () => {
        if (!check()) reject(new Error(`the process exited before printing ${pattern} on ${stream}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      };
      if (check()) return;
      this.child[stream].on('data', onData);
      this.child.on('close', onClose);
    });
  }

  /** SIGINT (Ctrl-C), then the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}

export function startCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = authorEnv()): RunningCli {
  return new RunningCli(spawn(process.execPath, [cliPath, ...args], { cwd, env }));
}
