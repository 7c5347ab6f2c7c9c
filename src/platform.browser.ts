/**
 * What relearn's core needs from its host, for browsers (pages and Web
 * Workers): platform.ts's exports, without Node. Swapped in by the browser
 * builds (scripts/esbuild_platform.mjs).
 */
import * as tf from "@tensorflow/tfjs-core";
import { indexedDbStore } from "./state/idb_store.js";
import type { StateStore } from "./state/store.js";
import type { AutoBackendOrder } from "./platform.js";

export type { AutoBackendOrder } from "./platform.js";

/** The host: "node" or "browser" (a page or a Web Worker). */
export const HOST: "node" | "browser" = "browser";

let store: StateStore | undefined;

/** The store of states named by updaters' inputStateFolder / outputStateFolder when no stateStore is given: IndexedDB. */
export function defaultStateStore(): StateStore {
  store ??= indexedDbStore();
  return store;
}

/** tfjs decides on wasm threads itself in a browser (only cross-origin isolated pages get them). */
export function defaultWasmThreads(): Promise<number> {
  return Promise.resolve(1);
}

/** Starts the wasm backend; its thread count is tfjs's business here. */
export async function startWasm(_threads: number, activate: () => Promise<void>): Promise<{ threads: number; note: string | undefined }> {
  await activate();
  return { threads: 1, note: undefined };
}

/**
 * "auto" in a browser: WebGL when the page registered it (import
 * "@tensorflow/tfjs-backend-webgl") and the GPU renders it, else wasm, else
 * cpu. A software-rendered WebGL (SwiftShader, llvmpipe: no GPU, or a
 * blocklisted one) is 2-50x slower than wasm, so wasm comes first there.
 */
export async function autoBackendOrder(): Promise<AutoBackendOrder> {
  if (tf.findBackendFactory("webgl") === null) return { order: ["wasm", "cpu"], note: undefined };
  const renderer = webglRenderer();
  if (renderer === undefined) return { order: ["wasm", "cpu"], note: "WebGL is not available here" };
  if (/swiftshader|llvmpipe|software|softpipe/i.test(renderer)) {
    return { order: ["wasm", "webgl", "cpu"], note: `WebGL is software-rendered (${renderer}), slower than wasm` };
  }
  return { order: ["webgl", "wasm", "cpu"], note: `WebGL renders on ${renderer}` };
}

/** The WebGL renderer's name (unmasked where the browser allows), or undefined without WebGL. */
function webglRenderer(): string | undefined {
  try {
    const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : document.createElement("canvas");
    const gl = (canvas.getContext("webgl2") ?? canvas.getContext("webgl")) as WebGLRenderingContext | null;
    if (gl === null) return undefined;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    return String(gl.getParameter(info === null ? gl.RENDERER : info.UNMASKED_RENDERER_WEBGL));
  } catch {
    return undefined;
  }
}
