/** A host call's answer: its value, or the error case the WIT declares for it. */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });
export const err = <E>(error: E): { readonly ok: false; readonly error: E } => ({ ok: false, error });

/**
 * Runs one import call. jco throws a WIT `err` as an object carrying the error case in `payload`
 * (created in the bindings' realm, so not `instanceof Error` here); that becomes `{ ok: false }`.
 * Anything else thrown (a trap, a bug) is rethrown.
 */
export function hostCall<T, E>(call: () => T): Result<T, E> {
  try {
    return { ok: true, value: call() };
  } catch (thrown) {
    if (thrown !== null && typeof thrown === 'object' && 'payload' in thrown) return { ok: false, error: (thrown as { payload: E }).payload };
    throw thrown;
  }
}
