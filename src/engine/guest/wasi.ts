/**
 * Our own locked-down WASI 0.2 for guests, in jco's import-object shape.
 *
 * - clocks work (wall clock is real time, the monotonic clock counts from the instance's creation);
 * - random comes from the OS CSPRNG, so every instance and every request differs;
 * - stdout/stderr become log records of the current execution (via `WasiHost.write`);
 * - stdin is empty; there are no preopened directories, no environment, no arguments;
 * - `exit` ends the execution only: it throws `GuestExit`, which the engine reports;
 * - no sockets and no wasi:http: components importing them are refused at install.
 *
 * Resource objects created while the snapshot is taken are "pinned": if the guest drops one in a
 * later request, the instance can no longer be restored soundly (its memory would name a handle
 * jco has freed), so `WasiHost.onPinnedDrop` tells the instance to retire.
 */
import { randomFillSync } from 'node:crypto';
import { stripVersion } from '../interface-name.js';

export class GuestExit extends Error {
  override readonly name = 'GuestExit';
  constructor(readonly code: number) {
    super(`guest called exit(${code})`);
  }
}

export interface WasiHost {
  write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void;
  /** a resource created before the snapshot was dropped: the instance must not be restored */
  onPinnedDrop(): void;
}

/** Counts live host resources so the instance can tell whether a request leaked handles. */
export class ResourceLedger {
  live = 0;
  pinning = false;
  track(obj: object): void {
    this.live++;
    if (this.pinning) pinned.add(obj);
  }
  release(obj: object, host: WasiHost): void {
    this.live--;
    if (pinned.has(obj)) host.onPinnedDrop();
  }
}
const pinned = new WeakSet<object>();

/** A stream error, as jco expects host functions returning `result<_, stream-error>` to throw. */
const closed = () => ({ payload: { tag: 'closed' } });

const MAX_RANDOM_BYTES = 1 << 20;

export function createWasiImports(host: WasiHost, ledger: ResourceLedger): Record<string, Record<string, unknown>> {
  const start = process.hrtime.bigint();

  class Pollable {
    constructor() {
      ledger.track(this);
    }
    ready(): boolean {
      return true;
    }
    block(): void {
      // Every pollable we hand out is ready at once: our streams never block, and a guest
      // sleeping on a clock would only burn its own deadline.
    }
    [Symbol.dispose](): void {
      ledger.release(this, host);
    }
  }

  class IoError {
    constructor(private readonly message: string) {
      ledger.track(this);
    }
    toDebugString(): string {
      return this.message;
    }
    [Symbol.dispose](): void {
      ledger.release(this, host);
    }
  }

  class InputStream {
    constructor() {
      ledger.track(this);
    }
    read(_len: bigint): Uint8Array {
      throw closed();
    }
    blockingRead(_len: bigint): Uint8Array {
      throw closed();
    }
    skip(_len: bigint): bigint {
      throw closed();
    }
    blockingSkip(_len: bigint): bigint {
      throw closed();
    }
    subscribe(): Pollable {
      return new Pollable();
    }
    [Symbol.dispose](): void {
      ledger.release(this, host);
    }
  }

  class OutputStream {
    constructor(private readonly stream: 'stdout' | 'stderr' | null) {
      ledger.track(this);
    }
    checkWrite(): bigint {
      return 1n << 20n;
    }
    write(contents: Uint8Array): void {
      if (this.stream === null) throw closed();
      host.write(this.stream, contents);
    }
    blockingWriteAndFlush(contents: Uint8Array): void {
      this.write(contents);
    }
    flush(): void {}
    blockingFlush(): void {}
    writeZeroes(len: bigint): void {
      this.write(new Uint8Array(Number(len)));
    }
    blockingWriteZeroesAndFlush(len: bigint): void {
      this.writeZeroes(len);
    }
    splice(): bigint {
      throw closed();
    }
    blockingSplice(): bigint {
      throw closed();
    }
    subscribe(): Pollable {
      return new Pollable();
    }
    [Symbol.dispose](): void {
      ledger.release(this, host);
    }
  }

  class TerminalInput {}
  class TerminalOutput {}

  /** No descriptor is ever handed out (no preopens), but jco needs the class to exist. */
  class Descriptor {
    constructor() {
      throw new Error('no filesystem access');
    }
  }
  class DirectoryEntryStream {
    constructor() {
      throw new Error('no filesystem access');
    }
  }

  const randomBytes = (len: bigint): Uint8Array => {
    const n = Number(len);
    if (n > MAX_RANDOM_BYTES) throw new RangeError(`random request of ${n} bytes exceeds ${MAX_RANDOM_BYTES}`);
    const out = new Uint8Array(n);
    randomFillSync(out);
    return out;
  };
  const randomU64 = (): bigint => {
    const b = new BigUint64Array(1);
    randomFillSync(b);
    return b[0]!;
  };
  const wallNow = () => {
    const ms = Date.now();
    return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
  };

  return {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => {
        throw new GuestExit(status?.tag === 'ok' ? 0 : 1);
      },
      exitWithCode: (code: number) => {
        throw new GuestExit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream() },
    'wasi:cli/stdout': { getStdout: () => new OutputStream('stdout') },
    'wasi:cli/stderr': { getStderr: () => new OutputStream('stderr') },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint() - start,
      resolution: () => 1n,
      subscribeDuration: () => new Pollable(),
      subscribeInstant: () => new Pollable(),
    },
    'wasi:clocks/wall-clock': {
      now: wallNow,
      resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': {
      Pollable,
      poll: (list: Pollable[]) => Uint32Array.from(list.map((_, i) => i)),
    },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:random/random': { getRandomBytes: randomBytes, getRandomU64: randomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: randomU64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [randomU64(), randomU64()] },
  };
}

/**
 * WASI functions whose core (canonical ABI) signature carries nothing but numbers — no memory, no
 * resources — by interface and WIT name, with their name in `createWasiImports`. The guest's core
 * modules get these functions of ours directly instead of jco's lowering trampoline, whose
 * per-call task bookkeeping (several objects and promises) cost more than the call itself: a
 * JavaScript guest reads the monotonic clock ~8 times per request. Nothing else the trampoline
 * does applies to them. A component declaring one with another type only gets wrong values.
 */
const DIRECT_WASI_FUNCTIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'wasi:clocks/monotonic-clock': { now: 'now', resolution: 'resolution' },
  'wasi:random/random': { 'get-random-u64': 'getRandomU64' },
  'wasi:random/insecure': { 'get-insecure-random-u64': 'getInsecureRandomU64' },
};

/**
 * A core module's import object with the trampolines of DIRECT_WASI_FUNCTIONS replaced by the
 * functions of `wasi` (createWasiImports' object) they would have called.
 */
export function withDirectWasi(importObject: WebAssembly.Imports, wasi: Record<string, Record<string, unknown>>): WebAssembly.Imports {
  let out: WebAssembly.Imports | null = null;
  for (const [ns, members] of Object.entries(importObject)) {
    const iface = stripVersion(ns);
    const direct = DIRECT_WASI_FUNCTIONS[iface];
    if (!direct) continue;
    for (const [name, ours] of Object.entries(direct)) {
      const fn = wasi[iface]?.[ours];
      if (!(name in members) || typeof fn !== 'function') continue;
      out ??= { ...importObject };
      out[ns] = { ...out[ns], [name]: fn as WebAssembly.ImportValue };
    }
  }
  return out ?? importObject;
}

/** WASI interfaces a component may import (clocks, random, io, and the cli environment, exit and stdio) — without version. */
export const ALLOWED_WASI_INTERFACES: ReadonlySet<string> = new Set([
  'wasi:cli/environment',
  'wasi:cli/exit',
  'wasi:cli/stdin',
  'wasi:cli/stdout',
  'wasi:cli/stderr',
  'wasi:cli/terminal-input',
  'wasi:cli/terminal-output',
  'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr',
  'wasi:clocks/monotonic-clock',
  'wasi:clocks/wall-clock',
  'wasi:io/error',
  'wasi:io/poll',
  'wasi:io/streams',
  'wasi:random/random',
  'wasi:random/insecure',
  'wasi:random/insecure-seed',
  // filesystem is served with no preopens: a guest can import it but never open anything
  'wasi:filesystem/types',
  'wasi:filesystem/preopens',
]);
