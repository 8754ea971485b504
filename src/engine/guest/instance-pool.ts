/**
 * The instance pool (guest worker): the guests loaded into this worker and their instances —
 * pristine ones ready to serve (fresh mode), one warm instance per install (reuse mode) — and the
 * spare instances made in idle time.
 */
import type { LoadMessage } from '../protocol.js';
import { GuestInstance, loadedGuest, type LoadedGuest } from './guest-instance.js';
import { loadGlue } from './glue.js';
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

export class InstancePool {
  private readonly slots = new Map<string, Slot>();
  // The glue reads `imports` once per instantiation; the same forwarding functions serve every request.
  private readonly importCache = new Map<string, Record<string, unknown>>();

  /** `lift`: what this worker's guests may hand the host (the glue of every guest reads it); `busy`: messages wait to be handled (no spare is made then) */
  constructor(
    private readonly bridge: HostBridge,
    private readonly lift: LiftBounds,
    private readonly busy: () => boolean,
  ) {}

  get(key: string): Slot | undefined {
    return this.slots.get(key);
  }

  /** The guest has a pristine instance ready to serve now. */
  hasReady(key: string): boolean {
    return (this.slots.get(key)?.ready.length ?? 0) > 0;
  }

  load(msg: LoadMessage): void {
    try {
      this.slots.set(msg.artifactKey, {
        guest: loadedGuest(loadGlue(msg.gluePath, this.lift), msg.modules, msg.maxMemoryPages, msg.returnAreas),
        importedFunctions: msg.importedFunctions,
        ready: [],
        alive: 0,
        tracksWrites: false,
        warm: new Map(),
      });
    } catch (e) {
      this.bridge.post({ type: 'load-failed', artifactKey: msg.artifactKey, message: e instanceof Error ? e.message : String(e) });
    }
  }

  unload(key: string): void {
    this.slots.delete(key);
    this.importCache.delete(key);
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
    const instance = new GuestInstance(slot.guest, imports, { write: this.bridge.writeStdio });
    slot.tracksWrites = instance.tracksWrites;
    return instance;
  }

  /** In idle time, bring a fresh slot up to its instance count (instantiation takes ~15-30 ms). */
  scheduleSpare(key: string): void {
    setImmediate(() => {
      const slot = this.slots.get(key);
      if (!slot || slot.alive >= freshInstancesFor(slot) || this.busy()) return;
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
