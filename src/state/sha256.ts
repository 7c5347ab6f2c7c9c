/**
 * SHA-256 as lowercase hex through Web Crypto (`crypto.subtle`), which Node 20,
 * browsers and Web Workers all provide: the one checksum of every state store.
 * Asynchronous because `crypto.subtle` is.
 */
import { StateError } from "../errors.js";

/**
 * Throws a StateError when this host has no `crypto.subtle`: browsers expose
 * it only in secure contexts (https://, or http://localhost / 127.0.0.1).
 * Stores call it before an update trains, so the update does not fail only
 * when it saves.
 */
export function assertChecksumsAvailable(): SubtleCrypto {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    throw new StateError(
      "states cannot be checksummed here: crypto.subtle is not available (a page served over plain http from a host " +
        "other than localhost?): serve the page over https or from localhost",
    );
  }
  return subtle;
}

/** SHA-256 of `content` (a string is hashed as UTF-8), as 64 lowercase hex digits. */
export async function sha256Hex(content: Uint8Array | string): Promise<string> {
  const subtle = assertChecksumsAvailable();
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const digest = await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  let hex = "";
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
