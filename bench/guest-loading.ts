/**
 * Loading the kitchen-sink the way the engine does, outside the engine: the prepared artifact from
 * the run's cache, core modules rewritten (memory cap, internal globals exported) and compiled (the
 * glue is loaded with the engine's own `loadGlue`). The floor baselines use it, and the cold-start
 * breakdown times each step.
 */
import { join } from 'node:path';
import { ArtifactStore, rewriteForEngine, type Artifact } from '../src/engine/artifact-store.js';
import { compileCoreModule } from '../src/engine/engine.js';
import { loadedGuest as engineLoadedGuest, type LoadedGuest } from '../src/engine/guest/guest-instance.js';
import type { GlueInstantiate } from '../src/engine/guest/glue.js';
import type { CoreModuleSpec } from '../src/engine/protocol.js';
import { kitchenSinkBytes } from './guests.js';
import type { BenchConfig } from './results.js';

/** The engine's default cap (256 MiB) in pages. */
export const MAX_MEMORY_PAGES = 4096;

export type Instantiate = GlueInstantiate;

export async function kitchenSinkArtifact(config: BenchConfig): Promise<Artifact> {
  const prepared = await new ArtifactStore(join(config.workDir, 'artifacts')).prepare(kitchenSinkBytes());
  if (prepared.kind !== 'ok') throw new Error(`prepare failed: ${prepared.problem.message}`);
  return prepared.artifact;
}

export async function readCoreModules(artifact: Artifact): Promise<Map<string, Uint8Array>> {
  return new ArtifactStore(join(artifact.dir, '..')).wholeModules(artifact);
}

/** What the engine's install-time rewrite does per core module (cap, exported globals, write tracking). */
export function rewriteForRestore(name: string, bytes: Uint8Array): { name: string; bytes: Uint8Array } {
  return { name, bytes: rewriteForEngine(bytes, MAX_MEMORY_PAGES) };
}

export function compileSpec(r: ReturnType<typeof rewriteForRestore>): Promise<CoreModuleSpec> {
  return compileCoreModule(r.name, r.bytes);
}

export function loadedGuest(artifact: Artifact, instantiate: Instantiate, specs: CoreModuleSpec[]): LoadedGuest {
  return engineLoadedGuest(instantiate, specs, MAX_MEMORY_PAGES, artifact.returnAreas);
}
