/**
 * How a WIT `result` reaches this guest. componentize-js 0.23 returns the `ok` value and throws a
 * `ComponentError` on `err`, whose `payload` is the error value (here always an enum case such as
 * "missing"; `message` repeats it). The binding code lives in another realm, so that object is
 * not `instanceof Error` in the guest: it is recognised by its `payload`. This module turns the
 * throw back into a value so routes can report `{err: code}`.
 */
export type Outcome<T> = { ok: T } | { err: string };

function errCode(thrown: unknown): string | undefined {
  if (thrown !== null && typeof thrown === 'object' && 'payload' in thrown) {
    return String((thrown as { payload: unknown }).payload);
  }
  return undefined;
}

/** Runs one host call; an `err` result becomes `{err: code}`, anything else thrown propagates. */
export function attempt<T>(call: () => T): Outcome<T> {
  try {
    return { ok: call() };
  } catch (thrown) {
    const code = errCode(thrown);
    if (code === undefined) throw thrown;
    return { err: code };
  }
}

/** Wraps a call that returns nothing so its success shows as `{ok: null}` in JSON. */
export function unit(call: () => void): () => null {
  return () => {
    call();
    return null;
  };
}
