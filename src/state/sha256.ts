/**
 * SHA-256 as lowercase hex through Web Crypto (`crypto.subtle`), which Node 20,
 * browsers and Web Workers all provide: the one checksum of every state store.
 * Asynchronous because `crypto.subtle` is.
 */
import { StateError } from "../errors.js";

/** SHA-256 of `content` (a string is hashed as UTF-8), as 64 lowercase hex digits. */
export async function sha256Hex(content: Uint8Array | string): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    // Browsers expose crypto.subtle only in secure contexts (https:// or http://localhost / 127.0.0.1).
    throw new StateError("crypto.subtle is not available here (a page served over plain http from another host?): serve it over https or from localhost");
  }
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const digest = await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  let hex = "";
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
