/** Storage quotas (docs/limits.md); a parameter everywhere so installs and tests can narrow them. */
export interface KvLimits {
  /** bytes of one value */
  readonly maxValueBytes: number;
  /** characters (code points) of a key */
  readonly maxKeyChars: number;
  /** characters (code points) of a namespace name */
  readonly maxNamespaceChars: number;
  readonly maxKeysPerNamespace: number;
  readonly maxNamespacesPerInstall: number;
  /** sum of value bytes over the install */
  readonly maxBytesPerInstall: number;
  /** entries per `list` page */
  readonly pageSize: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = Object.freeze({
  maxValueBytes: 64 * 1024,
  maxKeyChars: 256,
  maxNamespaceChars: 128,
  maxKeysPerNamespace: 5120,
  maxNamespacesPerInstall: 32,
  maxBytesPerInstall: 256 * 1024 * 1024,
  pageSize: 100,
});

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Why a namespace/key pair is unusable, or null when it is fine. */
export function invalidName(namespace: string, key: string | undefined, limits: KvLimits): string | null {
  if (namespace.length === 0) return 'namespace must not be empty';
  if (codePoints(namespace) > limits.maxNamespaceChars) return `namespace longer than ${limits.maxNamespaceChars} characters`;
  if (namespace.includes('\u0000')) return 'namespace must not contain NUL';
  if (key === undefined) return null;
  if (key.length === 0) return 'key must not be empty';
  if (codePoints(key) > limits.maxKeyChars) return `key longer than ${limits.maxKeyChars} characters`;
  if (key.includes('\u0000')) return 'key must not contain NUL';
  return null;
}
