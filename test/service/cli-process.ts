/**
 * A runner CLI process (`node bin/alga-runner.js ...`) for tests: its stderr and stdout read line
 * by line, so a test waits for the line it needs instead of for time to pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './harness.js';

export interface CliProcess {
  child: ChildProcess;
  /** every line so far (stdout and stderr interleaved) */
  readonly lines: readonly string[];
  /** the first line (past or future) matching `pattern`; rejects if the process exits first */
  line(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code */
  stop(): Promise<number | null>;
}

export function startCli(args: readonly string[], env: Record<string, string | undefined>): CliProcess {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'alga-runner.js'), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      const m = w.pattern.exec(line);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  void exited.then((code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`the process exited (${code}) before printing ${w.pattern}:\n${lines.join('\n')}`));
  });
  return {
    child,
    lines,
    line(pattern) {
      for (const line of lines) {
        const m = pattern.exec(line);
        if (m) return Promise.resolve(m);
      }
      if (child.exitCode !== null) return Promise.reject(new Error(`the process already exited before printing ${pattern}:\n${lines.join('\n')}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The parent's environment without any runner setting, so a test states all it relies on. */
export function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(RUNNER_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}
