/**
 * Minimal reader/rewriter for core WebAssembly modules, at the section level.
 *
 * The engine needs exactly two edits to the core modules jco extracts from a component:
 *  - declare a maximum on every memory the module defines, so growth past the cap traps
 *    (componentize-js declares none, and worker resourceLimits do not count linear memory);
 *  - export every internal mutable global, table and memory under a reserved name, so the snapshot
 *    mechanism can read and restore it (the guest's stack pointer and the WASI adapter's state
 *    live in such globals).
 *
 * Everything else is copied byte for byte. Only the sections we edit are decoded.
 */

export const RESERVED_GLOBAL_EXPORT_PREFIX = '__alga_global_';
export const RESERVED_TABLE_EXPORT_PREFIX = '__alga_table_';
export const RESERVED_MEMORY_EXPORT_PREFIX = '__alga_memory_';

export const WASM_PAGE_BYTES = 65536;

const SECTION_IMPORT = 2;
const SECTION_TABLE = 4;
const SECTION_MEMORY = 5;
const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const SECTION_DATA = 11;

export class WasmFormatError extends Error {
  override readonly name = 'WasmFormatError';
}

export type BinaryKind = 'core-module' | 'component' | 'unknown';

/** Tells a core module from a component by the preamble (magic + version/layer). */
export function binaryKind(bytes: Uint8Array): BinaryKind {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return 'unknown';
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 0 && bytes[4] === 1 && bytes[5] === 0) return 'core-module';
  if (layer === 1) return 'component';
  return 'unknown';
}

/** A cursor over module bytes (write-tracking.ts decodes code with it too). */
export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of section');
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 35) throw new WasmFormatError('LEB128 too long');
    }
  }
  u64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new WasmFormatError('LEB128 too long');
    }
  }
  /** Signed LEB of any width, skipped. */
  skipSigned(): void {
    while (this.byte() & 0x80);
  }
  /** A signed 32-bit LEB (an i32.const's value). */
  s32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result | 0;
  }
  skip(n: number): void {
    if (this.pos + n > this.end) throw new WasmFormatError('unexpected end of section');
    this.pos += n;
  }
  name(): string {
    const len = this.u32();
    const start = this.pos;
    this.skip(len);
    return new TextDecoder().decode(this.bytes.subarray(start, start + len));
  }
}

/** Builds module bytes (a custom section, an export section). */
export class Writer {
  private chunks: number[] = [];
  byte(b: number): this {
    this.chunks.push(b & 0xff);
    return this;
  }
  u32(value: number): this {
    let v = value >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.chunks.push(b);
    } while (v !== 0);
    return this;
  }
  u64(value: bigint): this {
    let v = value;
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) b |= 0x80;
      this.chunks.push(b);
    } while (v !== 0n);
    return this;
  }
  bytes(data: Uint8Array): this {
    for (const b of data) this.chunks.push(b);
    return this;
  }
  name(text: string): this {
    const data = new TextEncoder().encode(text);
    return this.u32(data.length).bytes(data);
  }
  toBytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export interface Section {
  id: number;
  /** start of contents (after id and size) */
  start: number;
  end: number;
}

/** The sections of a core module, in order (their contents' byte ranges). */
export function readSections(bytes: Uint8Array): Section[] {
  if (binaryKind(bytes) !== 'core-module') throw new WasmFormatError('not a core WebAssembly module');
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    sections.push({ id, start, end: start + size });
  }
  return sections;
}

interface Limits {
  flags: number;
  min: bigint;
  max: bigint | null;
}

function readLimits(r: Reader): Limits {
  const flags = r.byte();
  const is64 = (flags & 0x04) !== 0;
  const min = is64 ? r.u64() : BigInt(r.u32());
  const max = flags & 0x01 ? (is64 ? r.u64() : BigInt(r.u32())) : null;
  return { flags, min, max };
}

function writeLimits(w: Writer, limits: Limits): void {
  const is64 = (limits.flags & 0x04) !== 0;
  const flags = limits.max === null ? limits.flags & ~0x01 : limits.flags | 0x01;
  w.byte(flags);
  if (is64) w.u64(limits.min);
  else w.u32(Number(limits.min));
  if (limits.max !== null) {
    if (is64) w.u64(limits.max);
    else w.u32(Number(limits.max));
  }
}

function skipValType(r: Reader): void {
  const t = r.byte();
  // (ref null ht) / (ref ht) carry a heap type immediate
  if (t === 0x63 || t === 0x64) r.skipSigned();
}

function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0x41:
      case 0x42:
        r.skipSigned();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0x23:
      case 0xd2:
        r.u32();
        break;
      case 0xd0:
        r.skipSigned();
        break;
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: {
        const sub = r.u32();
        if (sub !== 12) throw new WasmFormatError(`unsupported SIMD opcode ${sub} in constant expression`);
        r.skip(16);
        break;
      }
      default:
        throw new WasmFormatError(`unsupported opcode 0x${op.toString(16)} in constant expression`);
    }
  }
}

interface ImportCounts {
  globals: number;
  tables: number;
  memories: number;
}

function countImports(bytes: Uint8Array, section: Section | undefined): ImportCounts {
  const counts: ImportCounts = { globals: 0, tables: 0, memories: 0 };
  if (!section) return counts;
  const r = new Reader(bytes, section.start, section.end);
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    r.name();
    r.name();
    const kind = r.byte();
    switch (kind) {
      case 0x00:
        r.u32();
        break;
      case 0x01:
        skipValType(r);
        readLimits(r);
        counts.tables++;
        break;
      case 0x02:
        readLimits(r);
        counts.memories++;
        break;
      case 0x03:
        skipValType(r);
        r.byte();
        counts.globals++;
        break;
      case 0x04:
        r.byte();
        r.u32();
        break;
      default:
        throw new WasmFormatError(`unknown import kind ${kind}`);
    }
  }
  return counts;
}

export interface ModuleFacts {
  /** initial pages of each memory the module defines */
  definedMemories: { index: number; minPages: bigint; maxPages: bigint | null }[];
  /** indices of mutable globals the module defines */
  mutableGlobals: number[];
  definedTables: number[];
  exports: { name: string; kind: number; index: number }[];
  /**
   * Active data segments, in order, as (offset, where their bytes are in the module); null when
   * one is placed at a computed offset or into another memory than the first.
   */
  activeData: { offset: number; start: number; length: number }[] | null;
}

export function inspectModule(bytes: Uint8Array): ModuleFacts {
  const sections = readSections(bytes);
  const find = (id: number) => sections.find((s) => s.id === id);
  const imports = countImports(bytes, find(SECTION_IMPORT));
  const facts: ModuleFacts = { definedMemories: [], mutableGlobals: [], definedTables: [], exports: [], activeData: [] };

  const mem = find(SECTION_MEMORY);
  if (mem) {
    const r = new Reader(bytes, mem.start, mem.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const l = readLimits(r);
      facts.definedMemories.push({ index: imports.memories + i, minPages: l.min, maxPages: l.max });
    }
  }
  const tables = find(SECTION_TABLE);
  if (tables) {
    const r = new Reader(bytes, tables.start, tables.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      // table with an explicit init expression starts with 0x40 0x00
      if (r.bytes[r.pos] === 0x40) {
        r.byte();
        r.byte();
        skipValType(r);
        readLimits(r);
        skipConstExpr(r);
      } else {
        skipValType(r);
        readLimits(r);
      }
      facts.definedTables.push(imports.tables + i);
    }
  }
  const globals = find(SECTION_GLOBAL);
  if (globals) {
    const r = new Reader(bytes, globals.start, globals.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      skipValType(r);
      const mutable = r.byte() === 1;
      skipConstExpr(r);
      if (mutable) facts.mutableGlobals.push(imports.globals + i);
    }
  }
  const exps = find(SECTION_EXPORT);
  if (exps) {
    const r = new Reader(bytes, exps.start, exps.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const name = r.name();
      const kind = r.byte();
      const index = r.u32();
      facts.exports.push({ name, kind, index });
    }
  }
  const data = find(SECTION_DATA);
  if (data) facts.activeData = readActiveData(new Reader(bytes, data.start, data.end));
  return facts;
}

/** The active data segments of a data section (see ModuleFacts.activeData); write-tracking.ts checks their offsets. */
export function readActiveData(r: Reader): ModuleFacts['activeData'] {
  const segments: NonNullable<ModuleFacts['activeData']> = [];
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    if (flags === 1) {
      r.skip(r.u32()); // passive: placed by memory.init only
      continue;
    }
    if (flags === 2 && r.u32() !== 0) return null;
    if (flags !== 0 && flags !== 2) return null;
    if (r.byte() !== 0x41) return null;
    const offset = r.s32() >>> 0;
    if (r.byte() !== 0x0b) return null;
    const length = r.u32();
    segments.push({ offset, start: r.pos, length });
    r.skip(length);
  }
  return segments;
}

export interface RewriteOptions {
  /** cap every defined memory at this many 64 KiB pages */
  maxMemoryPages: number;
}

export interface RewriteResult {
  bytes: Uint8Array;
  /** reserved export names added for internal mutable globals */
  exportedGlobals: string[];
  /** reserved export names added for tables */
  exportedTables: string[];
  /** reserved export names added for memories */
  exportedMemories: string[];
  /** largest initial memory (pages) the module declares, to compare with the cap */
  initialPages: number;
}

export class MemoryCapTooSmallError extends Error {
  override readonly name = 'MemoryCapTooSmallError';
  constructor(
    readonly initialPages: number,
    readonly capPages: number,
  ) {
    super(`the module needs ${initialPages} pages (${(initialPages * WASM_PAGE_BYTES) / 2 ** 20} MiB) of initial memory, above the cap of ${capPages} pages`);
  }
}

/** Caps memories and exports internal mutable globals, tables and memories. Other sections are copied. */
export function rewriteModule(bytes: Uint8Array, options: RewriteOptions): RewriteResult {
  const sections = readSections(bytes);
  const facts = inspectModule(bytes);
  const cap = BigInt(options.maxMemoryPages);
  let initialPages = 0;
  for (const m of facts.definedMemories) {
    initialPages = Math.max(initialPages, Number(m.minPages));
    if (m.minPages > cap) throw new MemoryCapTooSmallError(Number(m.minPages), options.maxMemoryPages);
  }

  const exportedGlobalIdx = new Set(facts.exports.filter((e) => e.kind === 3).map((e) => e.index));
  const exportedTableIdx = new Set(facts.exports.filter((e) => e.kind === 1).map((e) => e.index));
  const exportedMemoryIdx = new Set(facts.exports.filter((e) => e.kind === 2).map((e) => e.index));
  const addGlobals = facts.mutableGlobals.filter((g) => !exportedGlobalIdx.has(g));
  const addTables = facts.definedTables.filter((t) => !exportedTableIdx.has(t));
  const addMemories = facts.definedMemories.map((m) => m.index).filter((m) => !exportedMemoryIdx.has(m));
  const added = { globals: addGlobals, tables: addTables, memories: addMemories };
  const addedCount = addGlobals.length + addTables.length + addMemories.length;
  const exportedGlobals = addGlobals.map((g) => `${RESERVED_GLOBAL_EXPORT_PREFIX}${g}`);
  const exportedTables = addTables.map((t) => `${RESERVED_TABLE_EXPORT_PREFIX}${t}`);
  const exportedMemories = addMemories.map((m) => `${RESERVED_MEMORY_EXPORT_PREFIX}${m}`);

  // Parts are views into the input where a section is unchanged; the output is allocated once,
  // because every fresh 12 MB buffer costs tens of milliseconds of page faults on small VMs.
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  const emit = (id: number, body: Uint8Array) => {
    out.push(new Writer().byte(id).u32(body.length).toBytes(), body);
  };
  const emitExports = () => {
    const w = new Writer().u32(addedCount);
    appendExports(w, added);
    emit(SECTION_EXPORT, w.toBytes());
  };
  const adding = addedCount > 0;
  let sawExport = false;
  for (const s of sections) {
    if (s.id === SECTION_MEMORY) {
      const r = new Reader(bytes, s.start, s.end);
      const n = r.u32();
      const w = new Writer().u32(n);
      for (let i = 0; i < n; i++) {
        const l = readLimits(r);
        const max = l.max === null || l.max > cap ? cap : l.max;
        writeLimits(w, { ...l, max });
      }
      emit(s.id, w.toBytes());
    } else if (s.id === SECTION_EXPORT) {
      sawExport = true;
      const r = new Reader(bytes, s.start, s.end);
      const n = r.u32();
      const head = new Writer().u32(n + addedCount).toBytes();
      const tail = new Writer();
      appendExports(tail, added);
      const tailBytes = tail.toBytes();
      const existing = bytes.subarray(r.pos, s.end);
      out.push(
        new Writer()
          .byte(s.id)
          .u32(head.length + existing.length + tailBytes.length)
          .toBytes(),
        head,
        existing,
        tailBytes,
      );
    } else {
      // Sections must stay in order; an absent export section goes right before the start/elem/code sections.
      if (!sawExport && adding && s.id !== 0 && sectionRank(s.id) > sectionRank(SECTION_EXPORT)) {
        sawExport = true;
        emitExports();
      }
      out.push(
        new Writer()
          .byte(s.id)
          .u32(s.end - s.start)
          .toBytes(),
        bytes.subarray(s.start, s.end),
      );
    }
  }
  if (!sawExport && adding) emitExports();
  return { bytes: concat(out), exportedGlobals, exportedTables, exportedMemories, initialPages };
}

/** Position of a known section in the required order (the tag and data-count ids are out of sequence). */
function sectionRank(id: number): number {
  const order = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
  const rank = order.indexOf(id);
  return rank === -1 ? order.length : rank;
}

function appendExports(w: Writer, added: { globals: number[]; tables: number[]; memories: number[] }): void {
  for (const g of added.globals) w.name(`${RESERVED_GLOBAL_EXPORT_PREFIX}${g}`).byte(3).u32(g);
  for (const t of added.tables) w.name(`${RESERVED_TABLE_EXPORT_PREFIX}${t}`).byte(1).u32(t);
  for (const m of added.memories) w.name(`${RESERVED_MEMORY_EXPORT_PREFIX}${m}`).byte(2).u32(m);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
