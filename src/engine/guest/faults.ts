/**
 * Fault classification (guest worker): what an execution that threw ends with — the host's own
 * abort (a limit), a guest exit, a value too large, a pointer out of bounds, the memory limit, or a
 * plain trap — and how a thrown value is described in a message.
 */
import type { FaultCode } from '../../contract/index.js';
import type { GuestInstance } from './guest-instance.js';
import { GuestPointerOutOfBounds, GuestValueTooLarge } from './lift-bounds.js';
import { GuestExit } from './wasi.js';

/** Thrown into the guest to unwind it when the host ends the execution (limit reached). */
export class HostAbort extends Error {
  override readonly name = 'HostAbort';
  constructor(
    readonly code: FaultCode,
    message: string,
  ) {
    super(message);
  }
}

export function classifyFault(e: unknown, instance: GuestInstance, maxPages: number): { code: FaultCode; message: string } {
  if (e instanceof HostAbort) return { code: e.code, message: e.message };
  if (e instanceof GuestExit) return { code: 'guest_exit', message: e.message };
  if (e instanceof GuestValueTooLarge) return { code: e.phase === 'response' ? 'response_too_large' : 'guest_trap', message: e.message };
  if (e instanceof GuestPointerOutOfBounds) return { code: 'guest_trap', message: e.message };
  const message = describe(e);
  const pages = instance.memoryBytes() / 65536;
  // Growth past the declared maximum fails inside the guest, which then traps or reports OOM.
  // Treat a fault with memory at (or within a few pages of) the cap, or an OOM message, as the limit.
  if (pages >= maxPages - 16 || /out of memory/i.test(message)) {
    return { code: 'memory_limit', message: `the guest reached its memory limit of ${(maxPages * 65536) / 2 ** 20} MiB (${message})` };
  }
  return { code: 'guest_trap', message };
}

export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 2000);
  if (e && typeof e === 'object' && 'payload' in e) return `guest error: ${JSON.stringify((e as { payload: unknown }).payload)}`.slice(0, 2000);
  return String(e).slice(0, 2000);
}
