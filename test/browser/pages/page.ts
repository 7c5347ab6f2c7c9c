/**
 * The page of the browser tests. It exposes `globalThis.relearnTest`, which
 * the Node side calls through harness.callPage: every method takes JSON and
 * returns JSON (bytes as base64).
 */
import { runComputation, type ComputationArgs } from "./computations.js";
import { startBackend, toBase64 } from "./browser_backend.js";
import { corruptStoredFile, stallStateWrites, storedKeys } from "./idb_records.js";
import type { StepArgs } from "./state_steps.js";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../../src/backend/backend.js";

/** What a call that may fail returns: the weights' base64, or the error as "Name: message". */
export interface Outcome {
  weights?: string;
  error?: string;
}

async function outcome(work: () => Promise<Uint8Array>): Promise<Outcome> {
  try {
    return { weights: toBase64(await work()) };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

// Loaded on first use (see computations.ts).
const steps = () => import("./state_steps.js");
let pending: Promise<Outcome> | undefined;

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

  /** One update through stored states (state_steps.ts) in this page. */
  async step(backend: string, args: StepArgs): Promise<Outcome> {
    await startBackend(backend);
    return outcome(async () => (await steps()).updateStep(args));
  },

  /** Starts `step` without waiting; `pendingStep` waits for it. */
  startStep(backend: string, args: StepArgs): void {
    pending = api.step(backend, args);
  },

  pendingStep(): Promise<Outcome> | undefined {
    return pending;
  },

  /**
   * Like startStep, but the step starts when any tab of this origin calls
   * `go()` (a BroadcastChannel message), so two tabs start within the same moment.
   */
  armStep(backend: string, args: StepArgs): void {
    const channel = new BroadcastChannel("relearn-test-go");
    pending = new Promise<Outcome>((resolve) => {
      channel.onmessage = () => {
        channel.close();
        resolve(api.step(backend, args));
      };
    });
  },

  /** Starts every armed step in every tab of this origin. */
  go(): void {
    const channel = new BroadcastChannel("relearn-test-go");
    channel.postMessage("go");
    channel.close();
  },

  /** The weights of the model stored in state `name`, loaded as `updater` resumes it. */
  async storedWeights(backend: string, updater: string, name: string): Promise<Outcome> {
    await startBackend(backend);
    return outcome(async () => (await steps()).storedWeights(updater, name));
  },

  /**
   * `initBackend("auto")` after the app registered WebGL (as an app does, by importing its package): the
   * backend chosen and why.
   */
  async autoBackend(): Promise<{ name: string; reason: string }> {
    await import("@tensorflow/tfjs-backend-webgl");
    setWasmPaths(`${location.origin}/node_modules/@tensorflow/tfjs-backend-wasm/dist/`);
    const { name, reason } = await initBackend("auto");
    return { name, reason };
  },

  /** `initBackend("wasm")` without setWasmPaths first (the .wasm files are not next to this page's bundle): the error. */
  async wasmWithoutPaths(): Promise<string> {
    try {
      await initBackend("wasm");
      return "started";
    } catch (error) {
      return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  },

  storedKeys,
  corruptStoredFile,
  stallStateWrites,
};

(globalThis as unknown as { relearnTest: typeof api }).relearnTest = api;
