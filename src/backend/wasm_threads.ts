/**
 * Starting tfjs-backend-wasm 4.22 with several XNNPACK threads in Node.
 *
 * tfjs ships a threaded SIMD wasm build but never uses it in Node: its
 * `WASM_HAS_MULTITHREAD_SUPPORT` flag answers false there, and if forced to
 * true it hands Emscripten's pthread workers Blob URLs (for the worker
 * script and for the main script the workers re-evaluate), which Node's
 * `worker_threads` cannot load. Its C++ side also sizes the thread pool from
 * `os.cpus().length / 2` (it assumes two hyper-threads per core), which is
 * one thread on a 2-core machine whatever `setThreadsCount` asks for.
 *
 * So, only while the wasm backend initialises, relearn:
 * - sets the flag and `setThreadsCount(threads)`;
 * - answers the worker-script Blob URL with a file holding the same script
 *   (written once per content to the temp folder);
 * - replaces the main-script Blob with the path of the threaded build's own
 *   .js file in node_modules (the workers read files by path in Node);
 * - reports at least 2 x threads cpus, so the pool gets the threads asked.
 * Every patch is undone when initialisation ends. The pool's workers are
 * then unref'd, so they never keep a finished process alive, and the idle
 * ones Emscripten started beyond them are stopped (about 85 MiB).
 *
 * Matmul results do not depend on the thread count: XNNPACK splits the
 * output into tiles and each tile is summed by one thread in the same order.
 *
 * Node only: the browser build of tfjs decides on threads itself
 * (cross-origin isolated pages get them).
 */
import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";

import { checkWasmThreads, MAX_WASM_THREADS } from "./wasm_thread_limits.js";

const require = createRequire(import.meta.url);
const WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";

interface WasmPackage {
  setThreadsCount(threads: number): void;
}

/** What Emscripten's runtime exposes about its pthread workers. */
interface EmscriptenModule {
  PThread?: { unusedWorkers: Array<{ unref(): void; terminate(): unknown }>; runningWorkers: Array<{ unref(): void }> };
  tfjs?: { getThreadsCount(): number };
}

/**
 * The default thread count for wasm in Node: the RELEARN_WASM_THREADS
 * environment variable when set, else one per available core, at most
 * MAX_WASM_THREADS.
 */
export function defaultWasmThreads(): number {
  const fromEnv = process.env.RELEARN_WASM_THREADS;
  if (fromEnv !== undefined && fromEnv !== "") return parseThreads(fromEnv, "RELEARN_WASM_THREADS");
  return Math.max(1, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
}

/** A thread count from text; throws an OptionsError naming `source` when it is not an integer in 1..MAX. */
export function parseThreads(text: string, source: string): number {
  return checkWasmThreads(Number(text), source, JSON.stringify(text));
}

/**
 * Runs `start` (which must initialise the wasm backend, e.g.
 * `tf.setBackend("wasm")`) so that the backend comes up with `threads`
 * XNNPACK threads. With `threads` 1 it only runs `start`. When the threaded
 * start fails (no writable temp folder for the worker script, a worker that
 * cannot load), it starts the single-threaded build instead and returns why;
 * otherwise it returns undefined.
 */
export async function startWithWasmThreads(threads: number, start: () => Promise<void>): Promise<string | undefined> {
  if (threads <= 1) {
    await start();
    return undefined;
  }
  const undo: Array<() => void> = [];
  let failure: unknown;
  try {
    const wasm = require(WASM_PACKAGE) as WasmPackage;
    const mainScript = require.resolve(`${WASM_PACKAGE}/wasm-out/tfjs-backend-wasm-threaded-simd.js`);
    const workerScript = writeWorkerScript();
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    wasm.setThreadsCount(threads);
    undo.push(answerWorkerBlobUrl(workerScript), replaceMainScriptBlob(mainScript), reportCpus(2 * threads));
    await start();
    return undefined;
  } catch (error) {
    failure = error;
  } finally {
    for (const restore of undo.reverse()) restore();
  }
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  await start();
  return `${threads} wasm threads could not start (${failure instanceof Error ? failure.message : String(failure)}); running on 1`;
}

/**
 * Lets a process with a threaded wasm backend exit when its work is done,
 * stops the workers XNNPACK's pool did not take (Emscripten starts 8 whatever
 * the pool size; it starts a new one if a thread is ever asked for again),
 * and returns the number of threads XNNPACK really uses (1 when wasm is not
 * threaded).
 */
export function settleWasmThreads(backend: tf.KernelBackend): number {
  const module = (backend as { wasm?: EmscriptenModule }).wasm;
  const pool = module?.PThread;
  if (pool !== undefined) {
    for (const worker of pool.unusedWorkers.splice(0)) void worker.terminate();
    for (const worker of pool.runningWorkers) worker.unref();
  }
  return module?.tfjs?.getThreadsCount() ?? 1;
}

/** tfjs's own worker script, as a file Node can start (its text is a JS string export, with raw newlines inside string literals). */
function writeWorkerScript(): string {
  const { wasmWorkerContents } = require(`${WASM_PACKAGE}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  // The same escaping tfjs applies before making its Blob.
  const text = wasmWorkerContents.replace(/\n/g, "\\n");
  const digest = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const file = path.join(os.tmpdir(), `relearn-tfjs-wasm-${digest}.worker.cjs`);
  if (!existsSync(file)) {
    // Write then rename: concurrent processes never see a half-written script.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  }
  return file;
}

/** While installed, the worker script's Blob URL is the file `workerScript`. */
function answerWorkerBlobUrl(workerScript: string): () => void {
  const original = URL.createObjectURL.bind(URL);
  const saved = URL.createObjectURL;
  URL.createObjectURL = (blob: Blob) => (blob.type === "application/javascript" ? workerScript : original(blob));
  return () => {
    URL.createObjectURL = saved;
  };
}

/**
 * While installed, setting `mainScriptUrlOrBlob` to a Blob on any object
 * (tfjs sets it on the Emscripten config it creates) stores `mainScript` instead.
 */
function replaceMainScriptBlob(mainScript: string): () => void {
  Object.defineProperty(Object.prototype, "mainScriptUrlOrBlob", {
    configurable: true,
    set(this: object, value: unknown) {
      const stored = value instanceof Blob ? mainScript : value;
      Object.defineProperty(this, "mainScriptUrlOrBlob", { value: stored, writable: true, enumerable: true, configurable: true });
    },
  });
  return () => {
    delete (Object.prototype as { mainScriptUrlOrBlob?: unknown }).mainScriptUrlOrBlob;
  };
}

/** While installed, `os.cpus()` lists at least `count` cpus (repeating the real ones). */
function reportCpus(count: number): () => void {
  const nodeOs = require("node:os") as typeof os;
  const saved = nodeOs.cpus;
  nodeOs.cpus = () => {
    const real = saved();
    const listed = [...real];
    while (listed.length < count && real.length > 0) listed.push(...real);
    return listed;
  };
  return () => {
    nodeOs.cpus = saved;
  };
}
