/**
 * What relearn's core needs from its host, for Node. Browser builds replace
 * this module with platform.browser.ts (same exports; the esbuild plugin in
 * scripts/esbuild_platform.mjs swaps it, and the published browser bundle is
 * built that way), so nothing the core imports reaches `node:` modules there.
 * Keep the two files' exports identical: test/package/browser_bundle.test.ts checks them.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { fileSystemStore } from "./state/fs_store.js";
import type { StateStore } from "./state/store.js";

/** The host: "node" or "browser" (a page or a Web Worker). */
export const HOST: "node" | "browser" = "node";

/** The store of states named by updaters' inputStateFolder / outputStateFolder when no stateStore is given: folders. */
export function defaultStateStore(): StateStore {
  return fileSystemStore();
}

/** XNNPACK threads the wasm backend starts with when none is asked for (backend/wasm_threads.ts). */
export async function defaultWasmThreads(): Promise<number> {
  return (await import("./backend/wasm_threads.js")).defaultWasmThreads();
}

/**
 * Starts the wasm backend (`activate`) on `threads` XNNPACK threads: Node
 * needs relearn's patches for that (backend/wasm_threads.ts). Returns the
 * threads in use and why they differ from the ones asked, if they do.
 */
export async function startWasm(threads: number, activate: () => Promise<void>, backend: () => tf.KernelBackend): Promise<{ threads: number; note: string | undefined }> {
  const wasmThreads = await import("./backend/wasm_threads.js");
  const note = await wasmThreads.startWithWasmThreads(threads, activate);
  return { threads: wasmThreads.settleWasmThreads(backend()), note };
}

/** The backends "auto" tries, first to last, and a note on why when the host chose. */
export interface AutoBackendOrder {
  order: readonly ("tensorflow" | "wasm" | "cpu" | "webgl")[];
  note: string | undefined;
}

/** The backends "auto" tries, in order, and why (tfjs-node first: it is native). */
export function autoBackendOrder(): Promise<AutoBackendOrder> {
  return Promise.resolve({ order: ["tensorflow", "wasm", "cpu"], note: undefined });
}
