/**
 * Which paths may appear inside a bundle. A path is accepted only if it is relative, uses `/`
 * separators, has no empty, `.`/`..` or hidden (leading `.`) segments and no control characters,
 * so it can be joined under an extraction directory (or served by URL) without escaping it.
 * A single leading `./` (what `tar -C dir -cf - .` writes) is dropped first.
 */
export type EntryPathCheck = { readonly kind: 'ok'; readonly path: string } | { readonly kind: 'err'; readonly reason: string };

const MAX_PATH_LENGTH = 512;
const MAX_SEGMENT_LENGTH = 255;
// C0 controls, DEL and C1 controls: never part of a file name we want to write or serve.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function checkEntryPath(raw: string, options: { directory?: boolean } = {}): EntryPathCheck {
  let path = raw.startsWith('./') ? raw.slice(2) : raw;
  if (options.directory && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '') return { kind: 'err', reason: 'empty path' };
  if (path.length > MAX_PATH_LENGTH) return { kind: 'err', reason: `path longer than ${MAX_PATH_LENGTH} characters` };
  if (path.includes('\\')) return { kind: 'err', reason: 'backslash in path' };
  if (CONTROL.test(path)) return { kind: 'err', reason: 'control character in path' };
  if (path.startsWith('/')) return { kind: 'err', reason: 'absolute path' };
  if (/^[A-Za-z]:/.test(path)) return { kind: 'err', reason: 'drive-letter path' };
  for (const segment of path.split('/')) {
    if (segment === '') return { kind: 'err', reason: 'empty path segment' };
    if (segment === '..') return { kind: 'err', reason: "'..' segment" };
    if (segment.startsWith('.')) return { kind: 'err', reason: `hidden segment '${segment}'` };
    if (segment.length > MAX_SEGMENT_LENGTH) return { kind: 'err', reason: `segment longer than ${MAX_SEGMENT_LENGTH} characters` };
  }
  return { kind: 'ok', path };
}

/** Every proper ancestor directory of a checked path: `ui/a/b.js` → `ui`, `ui/a`. */
export function parentDirectories(path: string): string[] {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) out.push(segments.slice(0, i).join('/'));
  return out;
}
