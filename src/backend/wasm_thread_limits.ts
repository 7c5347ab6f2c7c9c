/**
 * The range of XNNPACK thread counts relearn accepts for the wasm backend,
 * and its check. Kept apart from wasm_threads.ts, which is Node-only, so that
 * option checks can use it in any environment.
 */
import { OptionsError } from "../errors.js";

export const MAX_WASM_THREADS = 4;

/** `value` when it is an integer from 1 to MAX_WASM_THREADS; else an OptionsError naming `source`. */
export function checkWasmThreads(value: number, source: string, shown: string = String(value)): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_WASM_THREADS) {
    throw new OptionsError(`${source} must be an integer from 1 to ${MAX_WASM_THREADS}; got ${shown}`);
  }
  return value;
}
