/**
 * The range of XNNPACK thread counts relearn accepts for the wasm backend.
 * Kept apart from wasm_threads.ts, which is Node-only, so that option
 * checks can use it in any environment.
 */
export const MAX_WASM_THREADS = 4;
