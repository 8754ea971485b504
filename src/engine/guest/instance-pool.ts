/**
 * The instance pool (guest worker): the guests loaded into this worker and their instances —
 * pristine ones ready to serve (fresh mode), one warm instance per install (reuse mode) — and the
 * spare instances made in idle time.
 *
 * Guests of one shape (the same code and glue, different initial memories: module-split.ts) share
 * their glue and lend each other pristine instances: a guest without a ready instance takes one of
 * another guest of its shape and copies the blocks in which their memories differ (a fraction of a
 * millisecond) instead of instantiating (milliseconds). So a worker serving a thousand extensions
 * needs about as many instances as it runs at once, not one per extension.
 *
 * Instances are held within a memory budget (their linear memories): past it, making an instance
 * first drops idle ones of the guests used least recently.
 */
import type { LoadMessage } from '../protocol.js';
import { GuestInstance, loadedGuest, type LoadedGuest } from './guest-instance.js';
import { loadGlue, type GlueInstantiate } from './glue.js';
import type { LiftBounds } from './lift-bounds.js';
import type { HostBridge } from './bridge.js';

/**
 * A loaded guest and its instances. Fresh mode keeps one or two pristine instances (see
 * freshInstancesFor): with two, while one is being restored after a request, the other can serve
 * the next request at once. Reuse mode keeps one warm instance per install, never shared with
 * another install or with fresh-mode requests.
 */
export interface Slot {
  guest: LoadedGuest;
  /** guests that can lend each other instances: shape and memory cap */
  group: string;
  importedFunctions: Record<string, string[]>;
  /** pristine instances ready to serve (fresh mode) */
  ready: GuestInstance[];
  /** fresh-mode instances alive, ready or not */
  alive: number;
  /** the guest's instances restore by tracked writes (known once one exists) */
  tracksWrites: boolean;
  /** reuse mode: the warm instance of each install */
  warm: Map<string, GuestInstance>;
}

/**
 * Pristine instances kept per guest. With write tracking a restore takes ~0.1 ms and one instance
 * is best (its memory stays in cache; measured: +35 % throughput over two); a full-copy restore
 * takes a millisecond or more, and a second instance serves the requests that arrive meanwhile.
 */
export function freshInstancesFor(slot: Slot): number {
  return slot.tracksWrites ? 1 : 2;
}

/** The glue of a shape, compiled once per worker, and how many loaded guests use it. */
interface SharedGlue {
  instantiate: GlueInstantiate;
  users: number;
}

export class InstancePool {
  /** in least-recently-used order: the first is the one to take idle instances from */
  private readonly slots = new Map<string, Slot>();
  private readonly glues = new Map<string, SharedGlue>();
  /** each loaded guest's glue (a key of `glues`) */
  private readonly gluePaths = new Map<string, string>();
  // The glue reads `imports` once per instantiation; the same forwarding functions serve every request.
  private readonly importCache = new Map<string, Record<string, unknown>>();

  /**
   * `lift`: what this worker's guests may hand the host (the glue of every guest reads it); `busy`:
   * messages wait to be handled (no spare is made then); `memoryBudget`: bytes of linear memory
   * the idle instances may hold (Infinity: no bound)
   */
  constructor(
    private readonly bridge: HostBridge,
    private readonly lift: LiftBounds,
    private readonly busy: () => boolean,
    private readonly memoryBudget = Number.POSITIVE_INFINITY,
  ) {}

  get(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (slot) {
      // most recently used last
      this.slots.delete(key);
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** The guest has a pristine instance ready to serve now. */
  hasReady(key: string): boolean {
    return (this.slots.get(key)?.ready.length ?? 0) > 0;
  }

  load(msg: LoadMessage): void {
    // a guest loaded again replaces the one before (and gives back its hold on the glue)
    if (this.slots.has(msg.artifactKey)) this.unload(msg.artifactKey);
    try {
      let glue = this.glues.get(msg.gluePath);
      if (!glue) {
        glue = { instantiate: loadGlue(msg.gluePath, this.lift), users: 0 };
        this.glues.set(msg.gluePath, glue);
      }
      const guest = loadedGuest(glue.instantiate, msg.modules, msg.maxMemoryPages, msg.returnAreas);
      glue.users++;
      this.slots.set(msg.artifactKey, {
        guest,
        group: `${msg.shapeKey}@${msg.maxMemoryPages}\u0000${msg.gluePath}`,
        importedFunctions: msg.importedFunctions,
        ready: [],
        alive: 0,
        tracksWrites: false,
        warm: new Map(),
      });
      this.gluePaths.set(msg.artifactKey, msg.gluePath);
    } catch (e) {
      this.bridge.post({ type: 'load-failed', artifactKey: msg.artifactKey, message: e instanceof Error ? e.message : String(e) });
    }
  }

  unload(key: string): void {
    this.slots.delete(key);
    this.importCache.delete(key);
    const path = this.gluePaths.get(key);
    this.gluePaths.delete(key);
    const glue = path === undefined ? undefined : this.glues.get(path);
    if (path !== undefined && glue && --glue.users <= 0) this.glues.delete(path);
  }

  /** Drops an install's reuse-mode instances, in every guest (their state must not outlive the install or its mode). */
  forgetOwner(owner: string): void {
    for (const slot of this.slots.values()) slot.warm.delete(owner);
  }

  newInstance(key: string, slot: Slot): GuestInstance {
    let imports = this.importCache.get(key);
    if (!imports) {
      imports = this.bridge.algaImports(slot.importedFunctions);
      this.importCache.set(key, imports);
    }
    this.makeRoom(slot);
    const instance = new GuestInstance(slot.guest, imports, { write: this.bridge.writeStdio });
    slot.tracksWrites = instance.tracksWrites;
    return instance;
  }

  /**
   * A pristine instance for `slot`'s guest taken from another guest of its shape (the one used
   * least recently that has one), turned into this guest's; undefined when there is none.
   */
  adopt(key: string, slot: Slot): GuestInstance | undefined {
    for (const [otherKey, other] of this.slots) {
      if (otherKey === key || other.group !== slot.group || other.ready.length === 0) continue;
      const instance = other.ready.pop()!;
      if (!instance.retarget(slot.guest)) {
        other.ready.push(instance);
        return undefined;
      }
      other.alive--;
      slot.alive++;
      slot.tracksWrites = instance.tracksWrites;
      // the lender gets an instance of its own again in idle time, if the budget allows
      this.scheduleSpare(otherKey);
      return instance;
    }
    return undefined;
  }

  /** Bytes of linear memory the worker's idle instances hold. */
  idleBytes(): number {
    let bytes = 0;
    for (const slot of this.slots.values()) {
      for (const instance of slot.ready) bytes += instance.memoryBytes();
      for (const instance of slot.warm.values()) bytes += instance.memoryBytes();
    }
    return bytes;
  }

  /** Drops idle instances of the guests used least recently until one more of `slot`'s fits the budget. */
  private makeRoom(slot: Slot): void {
    if (this.memoryBudget === Number.POSITIVE_INFINITY) return;
    const needed = this.sizeOf(slot);
    let idle = this.idleBytes();
    for (const other of this.slots.values()) {
      if (idle + needed <= this.memoryBudget) return;
      while (other.ready.length > 0 && idle + needed > this.memoryBudget) {
        idle -= other.ready.pop()!.memoryBytes();
        other.alive--;
      }
      for (const [owner, instance] of other.warm) {
        if (idle + needed <= this.memoryBudget) break;
        other.warm.delete(owner);
        idle -= instance.memoryBytes();
      }
    }
  }

  /** What one more instance of the guest will hold: as much as one it already has, else its initial memory. */
  private sizeOf(slot: Slot): number {
    const known = slot.ready[0] ?? slot.warm.values().next().value;
    if (known) return known.memoryBytes();
    const owner = [...slot.guest.modules.values()].find((s) => s.memory === 'defines');
    return owner?.data?.byteLength ?? 0;
  }

  /** In idle time, bring a fresh slot up to its instance count (instantiation takes ~15-30 ms), within the budget. */
  scheduleSpare(key: string): void {
    setImmediate(() => {
      const slot = this.slots.get(key);
      if (!slot || slot.alive >= freshInstancesFor(slot) || this.busy()) return;
      if (this.idleBytes() + this.sizeOf(slot) > this.memoryBudget) return;
      try {
        const spare = this.newInstance(key, slot);
        spare.takeSnapshot();
        slot.ready.push(spare);
        slot.alive++;
      } catch {
        // the next request instantiates and reports the failure itself
      }
    });
  }
}
