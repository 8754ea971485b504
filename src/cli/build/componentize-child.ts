/**
 * Runs componentize-js for `alga-runner build` in a process of its own (it takes 10-40 s and
 * ~800 MB; the parent stays free to show progress, and the memory goes when this exits).
 * argv[2]: a JSON job file ({@link ComponentizeJob}); writes the component to `outPath`.
 */
import { readFile, writeFile } from 'node:fs/promises';

export interface ComponentizeJob {
  sourcePath: string;
  witPath: string;
  outPath: string;
  disableFeatures: string[];
}

type Componentize = (options: { sourcePath: string; witWorld: string; worldName: string; disableFeatures: string[] }) => Promise<{ component: Uint8Array }>;

async function main(): Promise<void> {
  const job = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as ComponentizeJob;
  // componentize-js takes the WIT as text (`witWorld`): its wasm tools cannot open host paths, and its types list only `witPath`
  const componentize = (await import('@bytecodealliance/componentize-js')).componentize as unknown as Componentize;
  const { component } = await componentize({ sourcePath: job.sourcePath, witWorld: await readFile(job.witPath, 'utf8'), worldName: 'runner', disableFeatures: job.disableFeatures });
  await writeFile(job.outPath, component);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
