/**
 * Install-time pipeline: component bytes → shape checks → jco transpile (no WASI
 * shim, sync instantiation) → glue patches → on disk, keyed by the sha256 of the component, so a
 * restart reuses the output without transpiling again.
 */
import { randomBytes } from 'node:crypto';
import { contentHashOf } from '../bundle/content-hash.js';
import { access, mkdir, readFile, rename, rm, writeFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpileBytes } from '@bytecodealliance/jco-transpile';
import { checkComponentShape, type ComponentProblem } from './component-check.js';
import { stripVersion } from './interface-name.js';
import { ComponentTypeError, importReturnAreas, type ReturnAreas } from './component-types.js';
import { instrumentWrites } from './write-tracking.js';
import { rewriteModule } from './wasm-binary.js';
import { instanceStateSection, scanInstanceState } from './instance-state.js';
import { patchGlue } from './glue-patches.js';

/** Bump when the on-disk layout or the glue patches change: older artifacts are rebuilt. */
const ARTIFACT_FORMAT = 5;
const GLUE_FILE = 'guest.js';
const META_FILE = 'meta.json';
const COMPONENT_FILE = 'component.wasm';

/** The transpiler's version is part of the cache key: its package exports no package.json, so read it beside the entry. */
const jcoTranspileVersion: string = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'))), '..', 'package.json'), 'utf8')) as { version: string }
).version;

export interface Artifact {
  /** `sha256:<hex>` of the component bytes */
  contentHash: string;
  dir: string;
  gluePath: string;
  /** core module file names in the order jco numbers them */
  coreModules: string[];
  /** imported interfaces without version */
  imports: string[];
  /** interface → jco (camelCase) function names the guest imports */
  importedFunctions: Record<string, string[]>;
  /** what the host writes when each import returns; null when the component's types could not be read (restores then copy all of memory) */
  returnAreas: ReturnAreas | null;
  /** why `returnAreas` is null */
  returnAreasProblem?: string;
}

interface ArtifactMeta {
  format: number;
  jcoTranspile: string;
  contentHash: string;
  coreModules: string[];
  imports: string[];
  importedFunctions: Record<string, string[]>;
  returnAreas: ReturnAreas | null;
  returnAreasProblem?: string;
}

export type PrepareResult = { kind: 'ok'; artifact: Artifact; reused: boolean } | { kind: 'err'; problem: ComponentProblem };

export class ArtifactStore {
  private readonly inFlight = new Map<string, Promise<PrepareResult>>();

  constructor(readonly root: string) {}

  private dirFor(contentHash: string): string {
    return join(this.root, contentHash.replace(/^sha256:/, ''));
  }

  /** The artifact for a content hash if it was prepared before (by this or an earlier process). */
  async load(contentHash: string): Promise<Artifact | null> {
    if (!/^sha256:[0-9a-f]{64}$/.test(contentHash)) return null;
    const dir = this.dirFor(contentHash);
    try {
      const meta = JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as ArtifactMeta;
      if (meta.format !== ARTIFACT_FORMAT || meta.jcoTranspile !== jcoTranspileVersion || meta.contentHash !== contentHash) return null;
      const { coreModules, imports, importedFunctions, returnAreas, returnAreasProblem } = meta;
      return { contentHash, dir, gluePath: join(dir, GLUE_FILE), coreModules, imports, importedFunctions, returnAreas, ...(returnAreasProblem ? { returnAreasProblem } : {}) };
    } catch {
      return null;
    }
  }

  /** The artifact, transpiling the kept component again if the cached output is from another format. */
  async loadOrRebuild(contentHash: string): Promise<Artifact | null> {
    const artifact = await this.load(contentHash);
    if (artifact || !/^sha256:[0-9a-f]{64}$/.test(contentHash)) return artifact;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.dirFor(contentHash), COMPONENT_FILE));
    } catch {
      return null;
    }
    const rebuilt = await this.prepare(bytes);
    return rebuilt.kind === 'ok' ? rebuilt.artifact : null;
  }

  /** Validates and transpiles once per content hash; concurrent callers share the work. */
  prepare(bytes: Uint8Array): Promise<PrepareResult> {
    const contentHash = contentHashOf(bytes);
    const running = this.inFlight.get(contentHash);
    if (running) return running;
    const work = this.prepareUncached(contentHash, bytes).finally(() => this.inFlight.delete(contentHash));
    this.inFlight.set(contentHash, work);
    return work;
  }

  private async prepareUncached(contentHash: string, bytes: Uint8Array): Promise<PrepareResult> {
    const existing = await this.load(contentHash);
    if (existing) return { kind: 'ok', artifact: existing, reused: true };

    const checked = await checkComponentShape(bytes);
    if (checked.kind === 'err') return checked;

    let files: Record<string, Uint8Array>;
    try {
      files = await transpileComponent(bytes);
    } catch (e) {
      return { kind: 'err', problem: { code: 'invalid_component', message: `the component could not be transpiled: ${String(e instanceof Error ? e.message : e).split('\n')[0]}` } };
    }
    const glueBytes = files[GLUE_FILE];
    if (!glueBytes) throw new Error(`jco produced no ${GLUE_FILE}`);
    const glue = patchGlue(new TextDecoder().decode(glueBytes));
    const importedFunctions = importedFunctionsOf(glue);
    const { returnAreas, returnAreasProblem } = readReturnAreas(bytes);
    const coreModules = Object.keys(files)
      .filter((name) => name.endsWith('.wasm'))
      .sort((a, b) => coreIndex(a) - coreIndex(b));
    // compiles validate function bodies lazily (engine.ts), so every body is checked here, once
    const invalid = coreModules.find((name) => !WebAssembly.validate(files[name]! as Uint8Array<ArrayBuffer>));
    if (invalid) return { kind: 'err', problem: { code: 'invalid_component', message: `the component's core module ${invalid} is not valid WebAssembly` } };

    const dir = this.dirFor(contentHash);
    const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      // the component itself is kept so a newer runner can transpile it again (format or jco change)
      await writeFile(join(tmp, COMPONENT_FILE), bytes);
      await writeFile(join(tmp, GLUE_FILE), glue);
      for (const name of coreModules) await writeFile(join(tmp, name), files[name]!);
      const meta: ArtifactMeta = {
        format: ARTIFACT_FORMAT,
        jcoTranspile: jcoTranspileVersion,
        contentHash,
        coreModules,
        imports: checked.shape.imports,
        importedFunctions,
        returnAreas,
        ...(returnAreasProblem ? { returnAreasProblem } : {}),
      };
      await writeFile(join(tmp, META_FILE), JSON.stringify(meta, null, 2));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      // another process may have won the rename race with an identical artifact
      const other = await this.load(contentHash);
      if (other) return { kind: 'ok', artifact: other, reused: true };
      throw e;
    }
    const artifact = await this.load(contentHash);
    if (!artifact) throw new Error(`artifact ${contentHash} vanished after being written`);
    return { kind: 'ok', artifact, reused: false };
  }

  /**
   * A core module with its memory capped at `maxPages` and its internal globals exported (see
   * wasm-binary.ts), made once per cap and kept beside the artifact: later processes read it
   * instead of rewriting 12 MB again. `read: false` only makes sure it exists (install time).
   */
  async cappedModule(artifact: Artifact, name: string, maxPages: number, read: false): Promise<null>;
  async cappedModule(artifact: Artifact, name: string, maxPages: number, read?: true): Promise<Uint8Array>;
  async cappedModule(artifact: Artifact, name: string, maxPages: number, read = true): Promise<Uint8Array | null> {
    // `.w<n>`: the format of the rewrite (REWRITE_FORMAT); a new format gets a new name instead of
    // reading a file an older runner wrote
    const cappedName = (format: number) => join(artifact.dir, `${name.replace(/\.wasm$/, '')}.cap${maxPages}.w${format}.wasm`);
    const path = cappedName(REWRITE_FORMAT);
    try {
      if (!read) {
        await access(path);
        return null;
      }
      return await readFile(path);
    } catch {
      const rewritten = rewriteForEngine(await readFile(join(artifact.dir, name)), maxPages);
      // the input was validated at install; an invalid output is our rewrite's bug, never to be run
      if (!WebAssembly.validate(rewritten as Uint8Array<ArrayBuffer>)) throw new Error(`bug: rewriting ${name} of ${artifact.contentHash} produced invalid WebAssembly`);
      const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
      await writeFile(tmp, rewritten);
      await rename(tmp, path);
      // what an older runner wrote for this cap is never read again
      for (let format = 1; format < REWRITE_FORMAT; format++) await rm(cappedName(format), { force: true });
      return read ? rewritten : null;
    }
  }

  /** Removes temp dirs left by a crash mid-write. */
  async sweep(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const name of await readdir(this.root)) {
      if (name.includes('.tmp-')) await rm(join(this.root, name), { recursive: true, force: true });
    }
  }
}

/**
 * Version of what rewriteForEngine makes, in the kept file's name: 2 — cap, exported globals,
 * write tracking; 3 — stores through a local an earlier store already marked carry no mark;
 * 4 — internal memories exported, the instance-state facts in a custom section.
 */
export const REWRITE_FORMAT = 4;

/**
 * What the engine runs instead of a core module as jco extracted it: memory capped, internal
 * globals, tables and memories exported (wasm-binary.ts), memory writes tracked where the module
 * allows it (write-tracking.ts; where it does not, restores copy all of memory), and what instance
 * state its code can change (instance-state.ts) in a custom section.
 */
export function rewriteForEngine(bytes: Uint8Array, maxPages: number): Uint8Array {
  const capped = rewriteModule(bytes, { maxMemoryPages: maxPages }).bytes;
  const tracked = instrumentWrites(capped);
  const rewritten = tracked.kind === 'tracked' ? tracked.bytes : capped;
  const facts = instanceStateSection(scanInstanceState(bytes));
  const out = new Uint8Array(rewritten.length + facts.length);
  out.set(rewritten);
  out.set(facts, rewritten.length);
  return out;
}

/** A component whose types this runner cannot read still installs; it just restores all of memory. */
function readReturnAreas(bytes: Uint8Array): { returnAreas: ReturnAreas | null; returnAreasProblem?: string } {
  try {
    return { returnAreas: importReturnAreas(bytes) };
  } catch (e) {
    if (e instanceof ComponentTypeError) return { returnAreas: null, returnAreasProblem: e.message };
    throw e;
  }
}

function coreIndex(name: string): number {
  const m = /core(\d*)\.wasm$/.exec(name);
  return m ? Number(m[1] || 1) : Number.MAX_SAFE_INTEGER;
}

/** jco's output for a component, before our patches: `guest.js` (the glue) and the core modules. */
export async function transpileComponent(bytes: Uint8Array): Promise<Record<string, Uint8Array>> {
  const { files } = await transpileBytes(bytes, {
    name: 'guest',
    instantiation: 'sync',
    wasiShim: false,
    nodejsCompat: false,
    tlaCompat: false,
    emitTypescriptDeclarations: false,
    base64Cutoff: Number.MAX_SAFE_INTEGER,
  });
  return files;
}

/** jco binds imports by destructuring `imports['iface']` once per instance; read the names from there. */
export function importedFunctionsOf(glue: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of glue.matchAll(/const \{([^}]*)\} = imports\['([^']+)'\];/g)) {
    const iface = stripVersion(m[2]!);
    const names = m[1]!
      .split(',')
      .map((part) => part.split(':')[0]!.trim())
      .filter(Boolean);
    out[iface] = [...new Set([...(out[iface] ?? []), ...names])].sort();
  }
  return out;
}
