/**
 * Install-time pipeline: component bytes → shape checks → jco transpile (no WASI shim, sync
 * instantiation) → glue patches → on disk, keyed by the sha256 of the component, so a restart
 * reuses the output without transpiling again.
 *
 * What extensions share is stored once (module-split.ts): under `shapes/<shape key>/` the glue and
 * what was read from the component (imports, checks, return areas) — every component of that shape
 * gets the same; under `code/<code key>.wasm` each core module's code without its data segments.
 * A component whose shape is known installs without transpiling: its artifact is the component
 * and a meta file naming the shape. Its data segments are read from the component when it loads.
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
import { WasmFormatError, binaryKind, rewriteModule } from './wasm-binary.js';
import { instanceStateSection, scanInstanceState } from './instance-state.js';
import { patchGlue } from './glue-patches.js';
import { componentData, componentLayout, sha256Key, splitModule, type ComponentLayout, type DataSegments } from './module-split.js';

/** Bump when the on-disk layout or the glue patches change: older artifacts are rebuilt. */
const ARTIFACT_FORMAT = 6;
const GLUE_FILE = 'guest.js';
const META_FILE = 'meta.json';
const SHAPE_FILE = 'shape.json';
const COMPONENT_FILE = 'component.wasm';
const SHAPES_DIR = 'shapes';
const CODE_DIR = 'code';

/** The transpiler's version is part of the cache key: its package exports no package.json, so read it beside the entry. */
const jcoTranspileVersion: string = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'))), '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** A core module of a component: its name in the glue, its shared code, and where its own data is. */
export interface CoreModuleRef {
  /** jco's file name, e.g. `guest.core.wasm`: what the glue asks for */
  name: string;
  /** `sha256:<hex>` of the module's code (module-split.ts) */
  codeKey: string;
  /** index among the component's top-level core modules whose data segments were split off, or null when the code is the whole module */
  split: number | null;
}

export interface Artifact {
  /** `sha256:<hex>` of the component bytes */
  contentHash: string;
  dir: string;
  /** the shape's glue, shared by every component of the shape */
  gluePath: string;
  /** components with equal shapes differ only in their modules' data (module-split.ts) */
  shapeKey: string;
  /** core modules in the order jco numbers them */
  coreModules: CoreModuleRef[];
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
  contentHash: string;
  shapeKey: string;
}

interface ShapeMeta {
  format: number;
  jcoTranspile: string;
  shapeKey: string;
  coreModules: CoreModuleRef[];
  imports: string[];
  importedFunctions: Record<string, string[]>;
  returnAreas: ReturnAreas | null;
  returnAreasProblem?: string;
}

export type PrepareResult = { kind: 'ok'; artifact: Artifact; reused: boolean; transpiled: boolean } | { kind: 'err'; problem: ComponentProblem };

const HASH = /^sha256:[0-9a-f]{64}$/;
const hexOf = (key: string) => key.replace(/^sha256:/, '');

export class ArtifactStore {
  private readonly inFlight = new Map<string, Promise<PrepareResult>>();
  /** shapes read from disk by this process (a shape never changes once written) */
  private readonly shapes = new Map<string, ShapeMeta>();

  constructor(readonly root: string) {}

  private dirFor(contentHash: string): string {
    return join(this.root, hexOf(contentHash));
  }

  private shapeDir(shapeKey: string): string {
    return join(this.root, SHAPES_DIR, hexOf(shapeKey));
  }

  /** The shared code of a core module (module-split.ts). */
  codePath(codeKey: string): string {
    return join(this.root, CODE_DIR, `${hexOf(codeKey)}.wasm`);
  }

  private async loadShape(shapeKey: string): Promise<ShapeMeta | null> {
    const known = this.shapes.get(shapeKey);
    if (known) return known;
    try {
      const shape = JSON.parse(await readFile(join(this.shapeDir(shapeKey), SHAPE_FILE), 'utf8')) as ShapeMeta;
      if (shape.format !== ARTIFACT_FORMAT || shape.jcoTranspile !== jcoTranspileVersion || shape.shapeKey !== shapeKey) return null;
      // the code every module needs must be there too (a shape is written after its code)
      for (const m of shape.coreModules) await access(this.codePath(m.codeKey));
      this.shapes.set(shapeKey, shape);
      return shape;
    } catch {
      return null;
    }
  }

  private artifactOf(contentHash: string, shape: ShapeMeta): Artifact {
    const { shapeKey, coreModules, imports, importedFunctions, returnAreas, returnAreasProblem } = shape;
    return {
      contentHash,
      dir: this.dirFor(contentHash),
      gluePath: join(this.shapeDir(shapeKey), GLUE_FILE),
      shapeKey,
      coreModules,
      imports,
      importedFunctions,
      returnAreas,
      ...(returnAreasProblem ? { returnAreasProblem } : {}),
    };
  }

  /** The artifact for a content hash if it was prepared before (by this or an earlier process). */
  async load(contentHash: string): Promise<Artifact | null> {
    if (!HASH.test(contentHash)) return null;
    try {
      const meta = JSON.parse(await readFile(join(this.dirFor(contentHash), META_FILE), 'utf8')) as ArtifactMeta;
      if (meta.format !== ARTIFACT_FORMAT || meta.contentHash !== contentHash) return null;
      const shape = await this.loadShape(meta.shapeKey);
      return shape ? this.artifactOf(contentHash, shape) : null;
    } catch {
      return null;
    }
  }

  /** The artifact, preparing the kept component again if the cached output is from another format or its shape is gone. */
  async loadOrRebuild(contentHash: string): Promise<Artifact | null> {
    const artifact = await this.load(contentHash);
    if (artifact || !HASH.test(contentHash)) return artifact;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.dirFor(contentHash), COMPONENT_FILE));
    } catch {
      return null;
    }
    const rebuilt = await this.prepare(bytes);
    return rebuilt.kind === 'ok' ? rebuilt.artifact : null;
  }

  /** Validates and transpiles once per content hash (once per shape, when its shape is new); concurrent callers share the work. */
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
    if (existing) return { kind: 'ok', artifact: existing, reused: true, transpiled: false };

    let layout: ComponentLayout | null = null;
    if (binaryKind(bytes) === 'component') {
      try {
        layout = componentLayout(bytes);
      } catch (e) {
        if (!(e instanceof WasmFormatError)) throw e;
        return { kind: 'err', problem: { code: 'invalid_component', message: `invalid component: ${e.message}` } };
      }
    }
    const known = layout && (await this.loadShape(layout.shapeKey));
    let transpiled = false;
    let shape: ShapeMeta;
    if (known) shape = known;
    else {
      const made = await this.prepareShape(bytes, layout);
      if (made.kind === 'err') return made;
      shape = made.shape;
      transpiled = true;
    }

    const dir = this.dirFor(contentHash);
    const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      // the component is kept: its data segments are read from it, and a newer runner can prepare it again
      await writeFile(join(tmp, COMPONENT_FILE), bytes);
      const meta: ArtifactMeta = { format: ARTIFACT_FORMAT, contentHash, shapeKey: shape.shapeKey };
      await writeFile(join(tmp, META_FILE), JSON.stringify(meta, null, 2));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      // another process may have won the rename race with an identical artifact
      const other = await this.load(contentHash);
      if (other) return { kind: 'ok', artifact: other, reused: true, transpiled };
      throw e;
    }
    const artifact = await this.load(contentHash);
    if (!artifact) throw new Error(`artifact ${contentHash} vanished after being written`);
    return { kind: 'ok', artifact, reused: false, transpiled };
  }

  /** A shape seen for the first time: the checks, jco, the glue patches, and each module's code stored once. */
  private async prepareShape(bytes: Uint8Array, layout: ComponentLayout | null): Promise<{ kind: 'ok'; shape: ShapeMeta } | { kind: 'err'; problem: ComponentProblem }> {
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
    const names = Object.keys(files)
      .filter((name) => name.endsWith('.wasm'))
      .sort((a, b) => coreIndex(a) - coreIndex(b));
    // jco extracts the component's top-level modules as they are, in order: then the data can be
    // split off. Any other layout keeps each module whole under a shape of this component alone.
    const verbatim = layout !== null && layout.modules.length === names.length && names.every((name, i) => Buffer.from(files[name]!).equals(layout.modules[i]!.bytes));
    const modules = names.map((name, i) => {
      const split = verbatim ? layout.modules[i]! : { ...splitModule(files[name]!), bytes: files[name]! };
      return { name, split: verbatim && split.data ? i : null, codeKey: split.data && verbatim ? split.codeKey : sha256Key(files[name]!), code: split.data && verbatim ? split.code : files[name]! };
    });
    // compiles validate function bodies lazily (engine.ts), so every body is checked here, once per code
    const invalid = modules.find((m) => !WebAssembly.validate(m.code as Uint8Array<ArrayBuffer>));
    if (invalid) return { kind: 'err', problem: { code: 'invalid_component', message: `the component's core module ${invalid.name} is not valid WebAssembly` } };
    const shapeKey = verbatim ? layout.shapeKey : sha256Key(new TextEncoder().encode(`whole:${contentHashOf(bytes)}`));

    await mkdir(join(this.root, CODE_DIR), { recursive: true });
    for (const m of modules) await writeOnce(this.codePath(m.codeKey), m.code);
    const shape: ShapeMeta = {
      format: ARTIFACT_FORMAT,
      jcoTranspile: jcoTranspileVersion,
      shapeKey,
      coreModules: modules.map(({ name, codeKey, split }) => ({ name, codeKey, split })),
      imports: checked.shape.imports,
      importedFunctions,
      returnAreas,
      ...(returnAreasProblem ? { returnAreasProblem } : {}),
    };
    const dir = this.shapeDir(shapeKey);
    const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, GLUE_FILE), glue);
    await writeFile(join(tmp, SHAPE_FILE), JSON.stringify(shape, null, 2));
    await rm(dir, { recursive: true, force: true });
    try {
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      // another process wrote the same shape at the same time
      const other = await this.loadShape(shapeKey);
      if (!other) throw e;
    }
    this.shapes.set(shapeKey, shape);
    return { kind: 'ok', shape };
  }

  /** The data segments of each split module of an artifact (by jco name), read from its component. */
  async moduleData(artifact: Artifact): Promise<Map<string, DataSegments>> {
    const out = new Map<string, DataSegments>();
    if (!artifact.coreModules.some((m) => m.split !== null)) return out;
    const modules = componentData(await readFile(join(artifact.dir, COMPONENT_FILE)));
    for (const m of artifact.coreModules) {
      if (m.split === null) continue;
      const data = modules[m.split];
      if (!data) throw new Error(`bug: core module ${m.name} of ${artifact.contentHash} has no data to split`);
      out.set(m.name, data);
    }
    return out;
  }

  /** Each core module whole, as the component carries it (jco's files): for tools that load a guest outside the engine. */
  async wholeModules(artifact: Artifact): Promise<Map<string, Uint8Array>> {
    const layout = componentLayout(await readFile(join(artifact.dir, COMPONENT_FILE)));
    const out = new Map<string, Uint8Array>();
    for (const m of artifact.coreModules) out.set(m.name, m.split === null ? await readFile(this.codePath(m.codeKey)) : layout.modules[m.split]!.bytes);
    return out;
  }

  /**
   * A module's code with its memory capped at `maxPages` and its internal globals exported (see
   * wasm-binary.ts), made once per code and cap and kept beside the code: later processes, and
   * every extension with the same code, read it instead of rewriting it. `read: false` only makes
   * sure it exists (install time).
   */
  async cappedCode(codeKey: string, maxPages: number, read: false): Promise<null>;
  async cappedCode(codeKey: string, maxPages: number, read?: true): Promise<Uint8Array>;
  async cappedCode(codeKey: string, maxPages: number, read = true): Promise<Uint8Array | null> {
    // `.w<n>`: the format of the rewrite (REWRITE_FORMAT); a new format gets a new name instead of
    // reading a file an older runner wrote
    const source = this.codePath(codeKey);
    const cappedName = (format: number) => source.replace(/\.wasm$/, `.cap${maxPages}.w${format}.wasm`);
    const path = cappedName(REWRITE_FORMAT);
    try {
      if (!read) {
        await access(path);
        return null;
      }
      return await readFile(path);
    } catch {
      const rewritten = rewriteForEngine(await readFile(source), maxPages);
      // the input was validated at install; an invalid output is our rewrite's bug, never to be run
      if (!WebAssembly.validate(rewritten as Uint8Array<ArrayBuffer>)) throw new Error(`bug: rewriting code ${codeKey} produced invalid WebAssembly`);
      await writeOnce(path, rewritten);
      // what an older runner wrote for this cap is never read again
      for (let format = 1; format < REWRITE_FORMAT; format++) await rm(cappedName(format), { force: true });
      return read ? rewritten : null;
    }
  }

  /** Removes temp dirs left by a crash mid-write. */
  async sweep(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const sub of ['', SHAPES_DIR, CODE_DIR]) {
      let names: string[];
      try {
        names = await readdir(join(this.root, sub));
      } catch {
        continue;
      }
      for (const name of names) if (name.includes('.tmp-')) await rm(join(this.root, sub, name), { recursive: true, force: true });
    }
  }
}

/** Writes a file that, once there, never changes: through a temp name, so a reader never sees half of it. */
async function writeOnce(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await access(path);
    return;
  } catch {
    // not there yet
  }
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
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
