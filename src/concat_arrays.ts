/** Joining typed arrays, for the few places that assemble one from parts (logs, archives, benchmark predictions). */

type Concatenable = Uint8Array | Int32Array | Float32Array;

/** `parts` end to end in one new array of their type (`empty` when there are none). */
export function concatArrays<T extends Concatenable>(parts: readonly T[], empty: T): T {
  const out = new (empty.constructor as new (length: number) => T)(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
