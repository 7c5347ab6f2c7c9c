/**
 * Choosing and starting the tfjs backend. One place decides, so every part
 * of relearn (and the CLI) runs on the same backend and reports why it was
 * chosen.
 *
 * Defaults: in Node "auto" takes tfjs-node ("tensorflow") when it is
 * installed, else the wasm backend (4-6x faster than the pure-JS cpu backend
 * here), else cpu. In a browser it takes WebGL when the app imported
 * "@tensorflow/tfjs-backend-webgl" and a GPU renders it, else wasm, else cpu
 * (platform.browser.ts). Optional backends (webgl, webgpu, tensorflow) are
 * imported by the app in a browser: relearn's own import of them is invisible
 * to bundlers.
 * In Node the wasm backend finds its .wasm files next to its own bundle, so
 * no `setWasmPaths` call is needed (checked by test/backend/backend.test.ts);
 * a browser bundle that serves the .wasm files elsewhere must call
 * `setWasmPaths` itself before `initBackend`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError, OptionsError } from "../errors.js";
import "./chained_ops.js";
import { installWasmKernelOverrides } from "./wasm_kernels/index.js";
import { checkWasmThreads } from "./wasm_thread_limits.js";
// The pure-JS cpu backend is registered on import because it starts synchronously:
// a model can then be built before initBackend() runs (as in the README's quick
// start). initBackend switches to the chosen backend and tfjs moves the existing
// tensors over on first use.
import "@tensorflow/tfjs-backend-cpu";
import { registerAdamUpdateKernel } from "./adam_update_kernel.js";
import { registerDenseReluKernels } from "./dense_relu_kernels.js";
import { registerBiasReluPoolKernels } from "./bias_relu_pool_kernels.js";
import { autoBackendOrder, defaultWasmThreads, HOST, startWasm } from "../platform.js";
silenceCpuBanner();
// relearn's fused Adam step, for wasm and cpu (the kernel registry is by name,
// so registering before the wasm package loads is fine).
registerAdamUpdateKernel();
// The whole-step path's fused bias + ReLU kernels (wasm only).
registerDenseReluKernels();
// The op chain's fused conv bias + ReLU + 2x2 max-pool kernels (wasm only).
registerBiasReluPoolKernels();

/** A backend choice: "auto" or one tfjs backend. */
export type BackendName = "auto" | "tensorflow" | "wasm" | "cpu" | "webgl" | "webgpu";

/** What `initBackend` started: the tfjs backend name, what was asked for, and why. */
export interface BackendInfo {
  /** The tfjs backend name now in use ("tensorflow", "wasm", "cpu", ...). */
  name: string;
  requested: BackendName;
  reason: string;
  /**
   * Threads the backend computes on: XNNPACK's pool on wasm (see
   * wasm_threads.ts), 1 on cpu; undefined where tfjs does not say.
   */
  threads?: number;
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /**
   * XNNPACK threads for the wasm backend in Node (1 to 4). Default: the
   * RELEARN_WASM_THREADS environment variable, else one per core, at most 4.
   * The count is fixed when wasm first starts in a process; asking for
   * another one later is a BackendError.
   */
  wasmThreads?: number;
}

/** The only version relearn is tested with; every @tensorflow/* package must match it. */
export const TFJS_VERSION = "4.22.0";

const BACKEND_NAMES: readonly BackendName[] = ["auto", "tensorflow", "wasm", "cpu", "webgl", "webgpu"];

/** The npm package that registers each explicit backend. */
const PACKAGE_OF: Record<Exclude<BackendName, "auto">, string> = {
  tensorflow: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs-backend-cpu",
  webgl: "@tensorflow/tfjs-backend-webgl",
  webgpu: "@tensorflow/tfjs-backend-webgpu",
};

let current: BackendInfo | undefined;
/** The wasm backend's thread count once it started in this process. */
let wasmThreadsInUse: number | undefined;
/** Why wasm runs on fewer threads than asked, when it does. */
let wasmThreadsNote: string | undefined;
let pending: { choice: BackendName; promise: Promise<BackendInfo> } | undefined;

/**
 * Starts the backend for `choice` and makes it tfjs's active backend.
 * Calling it again with the same choice while that backend is still active
 * returns at once. Throws BackendError when an explicit choice cannot start
 * (package not installed, no GPU, ...).
 */
export async function initBackend(choice: BackendName = "auto", options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(choice)) {
    throw new OptionsError(`backend must be one of ${BACKEND_NAMES.join(", ")}; got ${JSON.stringify(choice)}`);
  }
  const { wasmThreads } = options;
  if (wasmThreads !== undefined) checkWasmThreads(wasmThreads, "wasmThreads");
  if (wasmThreads !== undefined && wasmThreadsInUse !== undefined && wasmThreads !== wasmThreadsInUse) {
    throw new BackendError(
      `wasmThreads ${wasmThreads} cannot be honoured: the wasm backend already runs on ${wasmThreadsInUse} thread(s) ` +
        "in this process, and tfjs fixes the count when it first starts",
    );
  }
  // Read (and checked) before any backend starts, so a bad RELEARN_WASM_THREADS
  // is an error rather than a reason for "auto" to fall back to cpu.
  const wantsWasm = choice === "auto" || choice === "wasm";
  const threads = wasmThreads ?? (wantsWasm ? await defaultWasmThreads() : 1);
  if (current !== undefined && current.requested === choice && activeBackendName() === current.name) {
    return current;
  }
  if (pending !== undefined && pending.choice === choice) return pending.promise;
  const promise = (choice === "auto" ? startAuto(threads) : startExplicit(choice, threads)).finally(() => {
    if (pending?.promise === promise) pending = undefined;
  });
  pending = { choice, promise };
  current = await promise;
  return current;
}

/**
 * The backend relearn started, or undefined before any `initBackend`. If
 * something else switched tfjs's backend since, the returned name is the one
 * tfjs really uses and the reason says so.
 */
export function currentBackend(): BackendInfo | undefined {
  if (current === undefined) return undefined;
  const active = activeBackendName();
  if (active === undefined || active === current.name) return { ...current };
  return { name: active, requested: current.requested, reason: `switched to ${active} outside initBackend` };
}

/** Options that a backend may be unable to honour (Renate's accelerator options). */
export interface BackendCapabilityOptions {
  /** tfjs backend name, e.g. `currentBackend().name`. */
  backend: string;
  /** Number of devices to train on; relearn trains on exactly one. Default 1. */
  devices?: number;
  /** Floating-point precision as Lightning spells it ("32", "16", "bf16", "16-mixed", ...). Default "32". */
  precision?: string | number;
}

/**
 * Throws BackendError for an option the backend cannot honour (several
 * devices, any precision but 32-bit): relearn never silently ignores one.
 */
export function assertBackendSupports({ backend, devices = 1, precision = "32" }: BackendCapabilityOptions): void {
  if (!Number.isInteger(devices) || devices < 1) {
    throw new OptionsError(`devices must be a positive integer; got ${String(devices)}`);
  }
  if (devices !== 1) {
    throw new BackendError(
      `devices ${devices} is not supported on ${backend}: relearn trains on one device; set devices to 1`,
    );
  }
  const text = String(precision);
  if (text !== "32" && text !== "32-true") {
    throw new BackendError(`precision ${text} is not supported on ${backend}: tfjs trains in float32; set precision to "32"`);
  }
}

function activeBackendName(): string | undefined {
  // engine().backendName is null until a backend was started; reading
  // tf.getBackend() instead would start one as a side effect.
  const name = (tf.engine() as { backendName: string | null }).backendName;
  return name ?? undefined;
}

async function startAuto(wasmThreads: number): Promise<BackendInfo> {
  const { order, note } = await autoBackendOrder();
  const notes: string[] = note === undefined ? [] : [note];
  for (const name of order) {
    try {
      const threads = await loadAndActivate(name, wasmThreads);
      const why = notes.length === 0 ? `${PACKAGE_OF[name]} is installed` : notes.join("; ");
      return withThreads({ name, requested: "auto", reason: `auto: ${why}; using ${name}` }, threads);
    } catch (error) {
      notes.push(error instanceof MissingPackage ? `${PACKAGE_OF[name]} is not installed` : `${name} failed (${describe(error)}${startHint(name)})`);
    }
  }
  throw new BackendError(`auto: no backend could start: ${notes.join("; ")}`);
}

async function startExplicit(name: Exclude<BackendName, "auto">, wasmThreads: number): Promise<BackendInfo> {
  let threads: number | undefined;
  try {
    threads = await loadAndActivate(name, wasmThreads);
  } catch (error) {
    if (error instanceof MissingPackage && HOST === "browser" && name === "tensorflow") {
      throw new BackendError(`backend "tensorflow" (tfjs-node, native) runs only in Node; in a browser use "wasm", "webgl" or "auto"`);
    }
    if (error instanceof MissingPackage && HOST === "browser") {
      throw new BackendError(
        `backend "${name}" is not registered: import "${PACKAGE_OF[name]}" in your app before initBackend ` +
          `(npm install ${PACKAGE_OF[name]}@${TFJS_VERSION}; a bundler cannot see relearn's optional import of it)`,
      );
    }
    if (error instanceof MissingPackage) {
      throw new BackendError(
        `backend "${name}" needs the package ${PACKAGE_OF[name]}, which is not installed: ` +
          `run \`npm install ${PACKAGE_OF[name]}@${TFJS_VERSION}\` (the same version as @tensorflow/tfjs-core)`,
        { cause: error.cause },
      );
    }
    throw new BackendError(`backend "${name}" could not start: ${describe(error)}${startHint(name)}`, { cause: error });
  }
  return withThreads({ name, requested: name, reason: `requested ${name}` }, threads);
}

/**
 * What to do when `name` fails to start, where the likely cause is known: in
 * a page, wasm fails when its .wasm files are not where tfjs looks for them
 * (next to the bundle, unless setWasmPaths says otherwise).
 */
function startHint(name: Exclude<BackendName, "auto">): string {
  if (HOST !== "browser" || name !== "wasm") return "";
  return (
    "; in a browser this is usually the .wasm files not being found: serve node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm " +
    "and call setWasmPaths(<their URL>) from @tensorflow/tfjs-backend-wasm before the first update (createUpdateWorker: the wasmPaths option)"
  );
}

function withThreads(info: BackendInfo, threads: number | undefined): BackendInfo {
  if (threads === undefined) return info;
  const reason = info.name === "wasm" && wasmThreadsNote !== undefined ? `${info.reason}; ${wasmThreadsNote}` : info.reason;
  return { ...info, reason, threads };
}

/** The package of a backend is absent (as opposed to present but failing). */
class MissingPackage extends Error {}

/** Starts backend `name` (wasm on `wasmThreads` threads) and makes it active; returns its thread count where known. */
async function loadAndActivate(name: Exclude<BackendName, "auto">, wasmThreads: number): Promise<number | undefined> {
  if (!tf.engine().registryFactory[name]) await importBackendPackage(name);
  if (!tf.engine().registryFactory[name]) {
    throw new Error(`${PACKAGE_OF[name]} loaded but did not register a "${name}" backend (a second copy of tfjs-core?)`);
  }
  // setBackend resolves false (and logs) when the backend fails to initialise.
  const activate = async (): Promise<void> => {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tf.setBackend("${name}") failed to initialise it`);
    await tf.ready();
  };
  if (name === "wasm") return activateWasm(activate, wasmThreads);
  await activate();
  if (name === "cpu") {
    // The cpu backend prints an "install tfjs-node" banner on its first
    // tensor; relearn is silent by default and "auto" already prefers
    // tfjs-node when it is there.
    const backend = tf.findBackend("cpu") as { firstUse?: boolean } | null;
    if (backend !== null && backend.firstUse === true) backend.firstUse = false;
    return 1;
  }
  return undefined;
}

/**
 * Starts wasm with relearn's kernel overrides and, in Node, with several
 * XNNPACK threads (platform.ts; the browser's platform module has no
 * node: imports).
 */
async function activateWasm(activate: () => Promise<void>, wasmThreads: number): Promise<number> {
  const firstStart = tf.engine().registry["wasm"] === undefined;
  if (firstStart) {
    const started = await startWasm(wasmThreads, activate, () => tf.backend());
    wasmThreadsNote = started.note;
    wasmThreadsInUse = started.threads;
  } else {
    await activate();
  }
  installWasmKernelOverrides();
  wasmThreadsInUse ??= 1;
  return wasmThreadsInUse;
}

async function importBackendPackage(name: Exclude<BackendName, "auto">): Promise<void> {
  // The two always-installed backends are imported by literal so bundlers see them.
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    return;
  }
  if (name === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu");
    return;
  }
  // Optional packages go through a variable specifier, so TypeScript and
  // bundlers neither require nor try to resolve them. A page has no module
  // resolution of its own: there the app imports the backend it wants.
  const specifier: string = PACKAGE_OF[name];
  if (HOST === "browser") throw new MissingPackage(specifier);
  try {
    await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
  } catch (error) {
    if (isModuleNotFound(error, specifier)) throw new MissingPackage(specifier, { cause: error });
    throw error;
  }
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" || /Cannot find (module|package)/.test(message)) &&
    message.includes(specifier)
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The cpu backend prints an "install tfjs-node" banner the first time an
 * instance is used; relearn is silent by default (and "auto" already prefers
 * tfjs-node). tfjs may create more than one instance (its backend selection
 * calls the factory again), so the factory itself is wrapped.
 */
function silenceCpuBanner(): void {
  const factory = tf.findBackendFactory("cpu");
  if (factory === null) return;
  tf.removeBackend("cpu");
  tf.registerBackend(
    "cpu",
    () => {
      const backend = factory() as tf.KernelBackend & { firstUse?: boolean };
      backend.firstUse = false;
      return backend;
    },
    1,
  );
}
