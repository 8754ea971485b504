/**
 * WIT interface names as components and jco spell them. Kept apart from component-check.ts so the
 * guest workers, which need only this, do not load the install-time checker and its wasm tools
 * (~50 ms and ~9 MiB per worker start).
 */

/** `wasi:io/poll@0.2.3` → `wasi:io/poll`. */
export function stripVersion(name: string): string {
  const at = name.indexOf('@');
  return at === -1 ? name : name.slice(0, at);
}
