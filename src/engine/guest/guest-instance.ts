/**
 * One instantiated component inside a worker, and the snapshot that gives it fresh-instance
 * semantics cheaply.
 *
 * A component's mutable state is: the linear memories, mutable globals, tables and passive
 * segments of its core instances, and jco's JS-side handle tables. Right after instantiation —
 * before the guest's handler ever runs — we copy every memory and global, and the entries of every
 * table when some module's code can change a table (instance-state.ts). After each request we put
 * them back, which leaves the guest exactly as a new instantiation would (instantiation runs at
 * most the modules' start functions, and the snapshot is taken after them). The restore is
 * refused, and the instance retired, whenever that argument does not hold:
 *  - some module's code can change state no snapshot holds (drops a segment, uses GC objects or an
 *    instruction the install-time scan does not know): such a guest gets a new instance per request;
 *  - the request faulted (trap, exit, timeout — jco also marks a trapped instance dead);
 *  - a memory grew (memory cannot shrink, so the copy would not be the whole state);
 *  - a table changed size;
 *  - the guest dropped a host resource created before the snapshot (its restored memory would name
 *    a handle jco freed);
 *  - too many host resources leaked across requests (handles the restored memory forgot; jco keeps
 *    them in its tables, so we bound the growth by retiring the instance).
 */
import type { CoreModuleSpec, ModuleData } from '../protocol.js';
import type { GuestContextData, GuestHttpRequest, GuestResponse } from '../../contract/index.js';
import { ResourceLedger, createWasiImports, withDirectWasi, type WasiHost } from './wasi.js';
import { DirtyBlocks } from './dirty-blocks.js';
import { BlockImage, CopiedImage, type PristineImage } from './pristine-image.js';
import { DIRTY_MAP_BYTES } from '../write-tracking.js';
import type { ReturnAreas } from '../component-types.js';
import { stripVersion } from '../interface-name.js';
import type { GlueInstantiate, InstantiateFn } from './glue.js';
import type { LiftBounds } from './lift-bounds.js';

export interface LoadedGuest {
  instantiate: InstantiateFn;
  modules: Map<string, CoreModuleSpec>;
  specsByModule: Map<WebAssembly.Module, CoreModuleSpec>;
  maxMemoryPages: number;
  /**
   * The pristine memory images (pristine-image.ts), shared by every instance of this guest whose
   * memories they describe (they do: instantiation runs no guest code). Saves a copy of linear
   * memory per instance — or, for data-segment images, the blocks built so far — and keeps one
   * restore source warm in the CPU cache instead of several.
   */
  pristine?: PristineImage[];
  /**
   * The return area of every function the component imports (component-types.ts): what the host
   * writes when an import returns. null: unknown (or tracking turned off) — restores copy all of
   * memory even when the modules track their writes.
   */
  returnAreas: ReturnAreas | null;
  /** some module's code can change table entries: snapshots keep them (instance-state.ts) */
  mutatesTables: boolean;
  /** why no used instance of this guest may be restored, or null */
  unrestorable: string | null;
  /** the bounds the glue checks its copies out of guest memory against (lift-bounds.ts) */
  lift: LiftBounds;
}

/** A guest as a worker holds it: the glue's `instantiate` and its compiled core modules. */
export function loadedGuest(instantiate: GlueInstantiate, specs: readonly CoreModuleSpec[], maxMemoryPages: number, returnAreas: ReturnAreas | null): LoadedGuest {
  const unrestorable = specs.find((s) => s.state.unrestorable !== null);
  return {
    instantiate,
    modules: new Map(specs.map((s) => [s.name, s])),
    specsByModule: new Map(specs.map((s) => [s.module, s])),
    maxMemoryPages,
    returnAreas,
    mutatesTables: specs.some((s) => s.state.mutatesTables),
    unrestorable: unrestorable ? `core module ${unrestorable.name}: ${unrestorable.state.unrestorable}` : null,
    lift: instantiate.lift,
  };
}

/** Write tracking needs every module that touches memory instrumented, one memory, and the imports' return areas. */
function writeTrackingUsable(guest: LoadedGuest): boolean {
  if (!guest.returnAreas) return false;
  const specs = [...guest.modules.values()];
  return specs.filter((s) => s.memory === 'defines').length === 1 && specs.every((s) => s.memory === 'none' || s.tracksWrites);
}

/** Core imports the canonical ABI defines for resources: they never write guest memory. */
const CANON_BUILTIN = /^\[resource-(drop|new|rep)\]/;

/** Host resources that may leak per request before the instance is retired. */
const MAX_LEAKED_RESOURCES = 4096;

/** Restore granularity: small enough that a waiting request is noticed within ~0.05 ms. */
const RESTORE_CHUNK_BYTES = 1 << 20;

interface Snapshot {
  memories: { memory: WebAssembly.Memory; image: PristineImage }[];
  globals: { global: WebAssembly.Global; value: unknown }[];
  /** entries are kept only when some module's code can change a table */
  tables: { table: WebAssembly.Table; length: number; entries: unknown[] | null }[];
  liveResources: number;
}

export class GuestInstance {
  private snapshot: Snapshot | null = null;
  private unsound = false;
  readonly memories: WebAssembly.Memory[] = [];
  private readonly globals: WebAssembly.Global[] = [];
  private readonly tables: WebAssembly.Table[] = [];
  private readonly ledger = new ResourceLedger();
  private readonly handler: (request: { context: GuestContextData; http: GuestHttpRequest }) => GuestResponse;
  /** requests served since instantiation */
  served = 0;
  /** bytes of memory the last restore copied (all of it, unless writes are tracked) */
  restoredBytes = 0;

  constructor(
    private guest: LoadedGuest,
    algaImports: Record<string, unknown>,
    io: Pick<WasiHost, 'write'>,
  ) {
    const wasiHost: WasiHost = { write: io.write, onPinnedDrop: () => (this.unsound = true) };
    const wasi = createWasiImports(wasiHost, this.ledger);
    const imports = { ...wasi, ...algaImports };
    const tracking = writeTrackingUsable(guest);
    const instantiateCore = (module: WebAssembly.Module, jcoImports?: WebAssembly.Imports) => {
      const spec = guest.specsByModule.get(module);
      const tracked = tracking && spec !== undefined && spec.memory !== 'none';
      const importObject = jcoImports && withDirectWasi(jcoImports, wasi);
      const instance = new WebAssembly.Instance(module, tracked ? this.trackImports(importObject, guest.returnAreas!) : importObject);
      // shared code carries no data: it goes where instantiation would have put it, before any code runs
      if (spec?.applyData && spec.data) new BlockImage(spec.data).writeInto(new Uint8Array(definedMemory(instance).buffer));
      this.capture(instance, spec);
      const exports = tracked ? this.trackAllocators(instance.exports) : instance.exports;
      return { exports: responsePhaseAfterHandler(exports, guest.lift) };
    };
    const getCoreModule = (name: string) => {
      const spec = guest.modules.get(name);
      if (!spec) throw new Error(`glue asked for unknown core module ${name}`);
      return spec.module;
    };
    this.ledger.pinning = true;
    this.handler = guest.instantiate(getCoreModule, imports, instantiateCore).handler;
    this.ledger.pinning = false;
    if (tracking && this.memories.length === 1) this.dirty = new DirtyBlocks(this.memories[0]!);
  }

  /** Set when every module touching memory tracks its writes: restores then copy only dirty blocks. */
  private dirty: DirtyBlocks | null = null;

  get tracksWrites(): boolean {
    return this.dirty !== null;
  }

  /**
   * Host code reached from the guest marks what it will write: an import's return area (its last
   * argument, sized by the component's declared result type). Canonical-ABI builtins and imports
   * returning in a core value write nothing and are passed through. Imports the component's types
   * do not describe (core modules importing each other) get the blanket treatment: the marks are
   * taken first and every block an i32 argument points at is marked.
   */
  private trackImports(importObject: WebAssembly.Imports | undefined, returnAreas: ReturnAreas): WebAssembly.Imports | undefined {
    if (!importObject) return importObject;
    const out: WebAssembly.Imports = {};
    for (const [ns, members] of Object.entries(importObject)) {
      const areas = returnAreas[stripVersion(ns)];
      const copy: Record<string, WebAssembly.ImportValue> = {};
      for (const [name, value] of Object.entries(members)) {
        const area = areas?.[name] ?? (CANON_BUILTIN.test(name) ? 0 : undefined);
        copy[name] = typeof value !== 'function' || area === 0 ? value : this.marking(value as (...args: unknown[]) => unknown, area);
      }
      out[ns] = copy;
    }
    return out;
  }

  private marking(fn: (...args: unknown[]) => unknown, returnArea: number | undefined): (...args: unknown[]) => unknown {
    const wrapped =
      returnArea === undefined
        ? (...args: unknown[]) => {
            const dirty = this.dirty;
            if (dirty) {
              dirty.absorb();
              for (const a of args) if (typeof a === 'number') dirty.markAddress(a);
            }
            return fn(...args);
          }
        : (...args: unknown[]) => {
            const dirty = this.dirty;
            if (dirty) {
              const at = args[args.length - 1] as number;
              // a return area inside the map would let the host erase marks: take them first
              if (at >>> 0 < DIRTY_MAP_BYTES) dirty.absorb();
              dirty.markRange(at, returnArea);
            }
            return fn(...args);
          };
    return Object.assign(wrapped, fn);
  }

  /** Allocators the host calls before writing guest memory: what they return is marked. */
  private trackAllocators(exports: WebAssembly.Exports): WebAssembly.Exports {
    const out: Record<string, WebAssembly.ExportValue> = { ...exports };
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function' || !/realloc/.test(name)) continue;
      const fn = value as (...args: number[]) => number;
      out[name] = (...args: number[]) => {
        const ptr = fn(...args);
        const dirty = this.dirty;
        if (dirty) {
          // a host write at an address inside the map could erase a mark: take the marks first
          if (ptr >>> 0 < DIRTY_MAP_BYTES) dirty.absorb();
          dirty.markRange(ptr, args[3] ?? 0);
        }
        return ptr;
      };
    }
    return out;
  }

  private capture(instance: WebAssembly.Instance, spec: CoreModuleSpec | undefined): void {
    const exports = instance.exports;
    for (const value of Object.values(exports)) {
      if (value instanceof WebAssembly.Memory && !this.memories.includes(value)) this.memories.push(value);
    }
    for (const name of spec?.mutableGlobals ?? []) {
      const g = exports[name];
      if (g instanceof WebAssembly.Global) this.globals.push(g);
    }
    for (const name of spec?.tables ?? []) {
      const t = exports[name];
      if (t instanceof WebAssembly.Table && !this.tables.includes(t)) this.tables.push(t);
    }
  }

  call(context: GuestContextData, http: GuestHttpRequest): GuestResponse {
    this.served++;
    return this.handler({ context, http });
  }

  memoryBytes(): number {
    return this.memories.reduce((n, m) => n + m.buffer.byteLength, 0);
  }

  /** Captures the pristine state. Call right after construction, before the first `call`. */
  takeSnapshot(): void {
    const shared = this.guest.pristine;
    const images = shared && this.describedBy(shared) ? shared : this.capturePristine();
    this.guest.pristine ??= images;
    this.snapshot = {
      memories: this.memories.map((memory, i) => ({ memory, image: images[i]! })),
      globals: this.globals.map((global) => ({ global, value: global.value as unknown })),
      tables: this.tables.map((table) => ({ table, length: table.length, entries: this.guest.mutatesTables ? tableEntries(table) : null })),
      liveResources: this.ledger.live,
    };
  }

  /** This instance's pristine memory: its data segments where that is provable, else a copy. */
  private capturePristine(): PristineImage[] {
    const data = this.segmentData();
    if (data && data.byteLength === this.memories[0]!.buffer.byteLength) return [new BlockImage(data)];
    return this.memories.map((memory) => new CopiedImage(new Uint8Array(memory.buffer).slice()));
  }

  /** Whether `images` (another instance's) describe this instance's memories as they are now. */
  private describedBy(images: PristineImage[]): boolean {
    if (images.length !== this.memories.length) return false;
    return images.every((image, i) => {
      const memory = this.memories[i]!.buffer;
      if (image instanceof BlockImage) return image.byteLength === memory.byteLength && this.segmentData() === image.data;
      return image instanceof CopiedImage && Buffer.from(memory).equals(image.bytes);
    });
  }

  /**
   * The data segments that make up the memory, when that is provably what instantiation left:
   * writes are tracked, nothing was marked during instantiation, and the one module defining the
   * memory is the only one with data to place in it.
   */
  private segmentData(): ModuleData | null {
    if (!this.dirty || this.memories.length !== 1 || !this.dirty.isClean()) return null;
    return segmentDataOf(this.guest);
  }

  /** The guest this instance is pristine for, or would be after a restore. */
  get loadedGuest(): LoadedGuest {
    return this.guest;
  }

  /**
   * Makes this pristine instance another guest's pristine instance: a guest with the same compiled
   * modules and glue (the same shape, module-split.ts) differs only in its initial memory, so only
   * the blocks whose contents differ are copied (data-image.ts ids). Call only on an instance
   * just restored (or never called); false when the two guests are not that alike or the memory
   * is not described by data segments (the instance then stays as it was).
   */
  retarget(to: LoadedGuest, between?: () => void): boolean {
    const snap = this.snapshot;
    if (!snap || this.unsound || !this.dirty || snap.memories.length !== 1 || to === this.guest) return to === this.guest;
    const from = snap.memories[0]!.image;
    const target = segmentDataOf(to);
    const memory = snap.memories[0]!.memory;
    if (!(from instanceof BlockImage) || !target || target.byteLength !== from.byteLength || memory.buffer.byteLength !== from.byteLength) return false;
    if (!sameCode(this.guest, to)) return false;
    const image = to.pristine?.length === 1 && to.pristine[0] instanceof BlockImage && to.pristine[0].data === target ? to.pristine[0] : new BlockImage(target);
    const bytes = new Uint8Array(memory.buffer);
    this.restoredBytes = image.copyDifferent(from, bytes, RESTORE_CHUNK_BYTES, between);
    to.pristine ??= [image];
    snap.memories[0] = { memory, image };
    this.guest = to;
    return true;
  }

  /** How this instance's restores get the pristine memory: from data segments or a copy, shared with its guest's other instances or its own. */
  get pristineSource(): 'shared-copy' | 'own-copy' | 'shared-data-segments' | 'own-data-segments' | 'none' {
    const images = this.snapshot?.memories.map((m) => m.image);
    if (!images) return 'none';
    const shared = images === this.guest.pristine || images.every((image, i) => image === this.guest.pristine?.[i]);
    const kind = images.some((image) => image instanceof BlockImage) ? 'data-segments' : 'copy';
    return `${shared ? 'shared' : 'own'}-${kind}`;
  }

  get hasSnapshot(): boolean {
    return this.snapshot !== null;
  }

  /**
   * Puts the pristine state back; false when that would not be sound (the instance must go).
   * The copy runs in chunks; `between` is called between chunks so the worker can serve a
   * request that arrives meanwhile on another (pristine) instance.
   */
  restore(between?: () => void): boolean {
    const snap = this.snapshot;
    if (!snap || this.unsound || this.guest.unrestorable !== null) return false;
    if (this.ledger.live - snap.liveResources > MAX_LEAKED_RESOURCES) return false;
    for (const { memory, image } of snap.memories) if (memory.buffer.byteLength !== image.byteLength) return false;
    for (const { table, length } of snap.tables) if (table.length !== length) return false;
    if (this.dirty) this.restoredBytes = this.dirty.restore(snap.memories[0]!.image, RESTORE_CHUNK_BYTES, between);
    else {
      this.restoredBytes = 0;
      for (const { memory, image } of snap.memories) {
        const target = new Uint8Array(memory.buffer);
        for (let offset = 0; offset < image.byteLength; offset += RESTORE_CHUNK_BYTES) {
          const end = Math.min(offset + RESTORE_CHUNK_BYTES, image.byteLength);
          image.copyInto(target, offset, end);
          this.restoredBytes += end - offset;
          if (between && end < image.byteLength) between();
        }
      }
    }
    for (const { global, value } of snap.globals) global.value = value;
    for (const { table, entries } of snap.tables) if (entries) restoreEntries(table, entries);
    return true;
  }
}

/**
 * Once the guest's handler has returned, what the glue copies out of memory is the response: its
 * own limit applies (and a refusal is response_too_large, not a trap).
 */
function responsePhaseAfterHandler(exports: WebAssembly.Exports, lift: LiftBounds): WebAssembly.Exports {
  const handler = exports['handler'];
  if (typeof handler !== 'function') return exports;
  const call = handler as (...args: unknown[]) => unknown;
  const wrapped = (...args: unknown[]) => {
    const result = call(...args);
    lift.phase = 'response';
    return result;
  };
  return Object.assign(Object.create(null) as Record<string, WebAssembly.ExportValue>, exports, { handler: wrapped });
}

/** The initial memory of a guest as its data segments, when its modules allow describing it so (see GuestInstance.segmentData). */
function segmentDataOf(guest: LoadedGuest): ModuleData | null {
  const specs = [...guest.modules.values()];
  const owner = specs.find((s) => s.memory === 'defines');
  if (!owner?.data || specs.some((s) => s.memory === 'imports' && s.placesData)) return null;
  return owner.data;
}

/** Two guests run the same compiled modules under the same names with the same glue. */
function sameCode(a: LoadedGuest, b: LoadedGuest): boolean {
  if (a.instantiate !== b.instantiate || a.modules.size !== b.modules.size || a.maxMemoryPages !== b.maxMemoryPages || a.mutatesTables !== b.mutatesTables) return false;
  for (const [name, spec] of a.modules) if (b.modules.get(name)?.codeKey !== spec.codeKey) return false;
  return a.returnAreas === b.returnAreas || JSON.stringify(a.returnAreas) === JSON.stringify(b.returnAreas);
}

/** The one memory a split module defines (the rewrite exports every memory, module-split.ts splits only modules with one). */
function definedMemory(instance: WebAssembly.Instance): WebAssembly.Memory {
  const memory = Object.values(instance.exports).find((v) => v instanceof WebAssembly.Memory);
  if (!memory) throw new Error('bug: a module whose data was split off exports no memory');
  return memory as WebAssembly.Memory;
}

function tableEntries(table: WebAssembly.Table): unknown[] {
  const entries = new Array<unknown>(table.length);
  for (let i = 0; i < entries.length; i++) entries[i] = table.get(i);
  return entries;
}

/** Puts back every entry that differs (V8 hands out one function object per function and instance). */
function restoreEntries(table: WebAssembly.Table, entries: unknown[]): void {
  for (let i = 0; i < entries.length; i++) if (table.get(i) !== entries[i]) table.set(i, entries[i]);
}
