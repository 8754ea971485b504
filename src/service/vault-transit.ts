/**
 * Decrypting with HashiCorp Vault's transit engine over its HTTP API: `POST
 * {addr}/v1/{mount}/decrypt/{key}` with `X-Vault-Token` (and `X-Vault-Namespace`), body
 * `{"ciphertext": "vault:v1:…"}`, answer `{"data": {"plaintext": "<base64>"}}`. The address is the
 * operator's (RUNNER_VAULT_ADDR), so the egress guard for guests does not apply to it.
 */

export interface VaultTransitSettings {
  /** e.g. https://vault.internal:8200 */
  readonly addr: string;
  readonly token: string;
  readonly namespace?: string;
  readonly timeoutMs: number;
}

export type TransitResult = { kind: 'ok'; plaintext: Uint8Array } | { kind: 'err'; message: string };

/** The largest answer read from Vault: a secret envelope's plaintext is a small JSON object. */
const MAX_ANSWER_BYTES = 4 * 2 ** 20;

export async function transitDecrypt(settings: VaultTransitSettings, mount: string, key: string, ciphertext: string): Promise<TransitResult> {
  const url = `${settings.addr.replace(/\/+$/, '')}/v1/${encodePath(mount)}/decrypt/${encodePath(key)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-vault-token': settings.token };
  if (settings.namespace) headers['x-vault-namespace'] = settings.namespace;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ ciphertext }), signal: AbortSignal.timeout(settings.timeoutMs), redirect: 'error' });
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_ANSWER_BYTES) return { kind: 'err', message: `Vault's answer is ${length} bytes, more than ${MAX_ANSWER_BYTES}` };
    text = await response.text();
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return { kind: 'err', message: timedOut ? `Vault did not answer within ${settings.timeoutMs} ms (RUNNER_VAULT_TIMEOUT_MS)` : `Vault could not be reached at ${settings.addr}: ${causeOf(e)}` };
  }
  if (!response.ok) return { kind: 'err', message: `Vault answered ${response.status} to transit decrypt with key ${mount}/${key}${vaultErrors(text)}` };
  let plaintext: unknown;
  try {
    plaintext = (JSON.parse(text) as { data?: { plaintext?: unknown } }).data?.plaintext;
  } catch {
    return { kind: 'err', message: "Vault's answer is not JSON" };
  }
  if (typeof plaintext !== 'string') return { kind: 'err', message: "Vault's answer has no data.plaintext" };
  return { kind: 'ok', plaintext: new Uint8Array(Buffer.from(plaintext, 'base64')) };
}

/** Each segment of a mount or key path URL-encoded; the slashes between them kept. */
function encodePath(path: string): string {
  return path
    .split('/')
    .filter(Boolean)
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/** Vault's own error list (`{"errors": [...]}`), which never holds secrets, for the message. */
function vaultErrors(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return `: ${errors.map(String).join('; ').slice(0, 500)}`;
  } catch {
    // not JSON: nothing to quote
  }
  return '';
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  return e instanceof Error ? e.message : String(e);
}
