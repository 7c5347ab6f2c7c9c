/**
 * The page of the browser tests. It exposes `globalThis.relearnTest`, which
 * the Node side calls through harness.callPage: every method takes JSON and
 * returns JSON (bytes as base64).
 */
import { runComputation, type ComputationArgs } from "./computations.js";
import { startBackend, toBase64 } from "./browser_backend.js";

const api = {
  /** Runs computation `name` on `backend` in this page; its bytes as base64. */
  async run(backend: string, name: string, args: ComputationArgs = {}): Promise<string> {
    await startBackend(backend);
    return toBase64(await runComputation(name, args));
  },

  /** Runs computation `name` on `backend` in a new module Worker; its bytes as base64. */
  runInWorker(backend: string, name: string, args: ComputationArgs = {}): Promise<string> {
    const worker = new Worker("/worker.js", { type: "module" });
    return new Promise<string>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<{ bytes?: Uint8Array; error?: string }>) => {
        worker.terminate();
        const { bytes, error } = event.data;
        if (bytes !== undefined) resolve(toBase64(bytes));
        else reject(new Error(`in the worker: ${error ?? "no result"}`));
      };
      worker.onerror = (event) => {
        worker.terminate();
        reject(new Error(`the worker failed: ${event.message}`));
      };
      worker.postMessage({ backend, name, args });
    });
  },
};

(globalThis as unknown as { relearnTest: typeof api }).relearnTest = api;
