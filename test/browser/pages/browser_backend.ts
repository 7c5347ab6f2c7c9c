/**
 * Starts a tfjs backend inside a page or a worker. The wasm backend fetches
 * its .wasm files from the test server (the harness serves node_modules/@tensorflow/),
 * so setWasmPaths must run before relearn's initBackend starts it.
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../../src/backend/backend.js";

/** Starts `name` ("wasm" or "cpu") and returns the tfjs backend name in use. */
export async function startBackend(name: string): Promise<string> {
  if (name !== "wasm" && name !== "cpu") throw new Error(`backend must be "wasm" or "cpu"; got ${JSON.stringify(name)}`);
  setWasmPaths(`${location.origin}/node_modules/@tensorflow/tfjs-backend-wasm/dist/`);
  return (await initBackend(name)).name;
}

/** Base64 of `bytes` (pages hand bytes back to Node as JSON strings). */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
