/**
 * Cut text to at most `maxBytes` of UTF-8 without splitting a character (the reference runner
 * could cut a multi-byte character in half). Cuts on code points; a surrogate pair is one
 * character.
 */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // A UTF-16 unit encodes to 1..3 bytes, so a string this short cannot be over the limit ...
  if (text.length * 3 <= maxBytes) return { text, truncated: false };
  // ... and the first `maxBytes` units hold at least `maxBytes` bytes: encode only those, so a
  // multi-megabyte message costs no more than the limit.
  const prefix = text.length > maxBytes ? text.slice(0, maxBytes) : text;
  const bytes = Buffer.from(prefix, 'utf8');
  if (bytes.length <= maxBytes) {
    return prefix.length === text.length ? { text, truncated: false } : { text: prefix, truncated: true };
  }
  let cut = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the character at the cut.
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return { text: bytes.subarray(0, cut).toString('utf8'), truncated: true };
}
