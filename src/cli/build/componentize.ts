/**
 * Componentize the bundle in a child process (componentize-child.ts), telling the terminal it is
 * still at work: on a terminal a line that counts the seconds, elsewhere a line every 5 s.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { worldWitPath } from '../runner-root.js';
import { BuildError } from './errors.js';
import type { ComponentizeJob } from './componentize-child.js';
import type { Project } from './project.js';
import type { BuildReporter } from './reporter.js';

const CHILD = fileURLToPath(new URL('./componentize-child.js', import.meta.url));

/** No wasi:http (the world's own http is the only way out), but clocks, random and stdio keep working. */
export const DISABLED_FEATURES = ['http', 'fetch-event'];

/** At most this much of componentize-js's own output is kept for the failure message. */
const OUTPUT_KEPT = 8_000;

export async function componentize(project: Project, code: string, reporter: BuildReporter): Promise<Uint8Array> {
  const scratch = await mkdtemp(join(tmpdir(), 'alga-runner-build-'));
  try {
    const job: ComponentizeJob = { sourcePath: join(scratch, 'index.js'), witPath: worldWitPath(project.world), outPath: join(scratch, 'main.wasm'), disableFeatures: DISABLED_FEATURES };
    await writeFile(job.sourcePath, code);
    const jobPath = join(scratch, 'job.json');
    await writeFile(jobPath, JSON.stringify(job));
    const started = performance.now();
    const stop = reporter.progress('componentizing with componentize-js (this takes 10-40 s) …', 'componentizing', () => Math.round((performance.now() - started) / 1000));
    let output = '';
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      const child = spawn(process.execPath, [CHILD, jobPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal }));
    }).finally(stop);
    if (exit.code !== 0) {
      const why = exit.signal ? `was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (out of memory? it needs ~800 MB)' : ''}` : `failed (exit ${exit.code})`;
      throw new BuildError('componentize_failed', `componentize-js ${why}:\n${output.trim() || '(no output)'}`);
    }
    return await readFile(job.outPath);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
