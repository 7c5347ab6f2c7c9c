/**
 * What runs inside an update worker: one updater, driven by the messages of
 * worker_protocol.ts. A worker module is two lines:
 *
 *   import { serveUpdateWorker } from "relearn";
 *   serveUpdateWorker();
 *
 * Training runs here, so the page's main thread stays free to draw; progress
 * goes back as events built from the training callbacks. Requests are handled
 * strictly one after another (an update sent while one runs waits), so two
 * updates never train the same model at once.
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { OptionsError, StateError } from "../errors.js";
import { evaluateDataset } from "../training/evaluate.js";
import type { TrainingCallback } from "../training/callbacks.js";
import type { ModelUpdater } from "../updaters/model_updater.js";
import { createUpdater } from "../updaters/registry.js";
import type { StateStore } from "../state/store.js";
import { defaultStateStore } from "../platform.js";
import { exportState as exportStateArchive } from "../state/state_export.js";
import {
  datasetFromMessage,
  errorToMessage,
  progressEvent,
  type EvaluateResult,
  type ExportStateResult,
  type InitRequest,
  type InitResult,
  type PageToWorker,
  type ProgressEvent,
  type ResultOf,
  type UpdateSummary,
  type WorkerToPage,
} from "./worker_protocol.js";

/** The part of a worker's global scope (or a MessagePort) the worker side uses. */
export interface WorkerScope {
  postMessage(message: WorkerToPage, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<PageToWorker>) => void): void;
}

/** Options of serveUpdateWorker. */
export interface UpdateWorkerOptions {
  /** Where requests arrive: the worker's global scope (default), or a MessagePort. */
  scope?: WorkerScope;
  /**
   * Where states named by `stateName` live; default the host's store
   * (IndexedDB database "relearn" in a browser, folders in Node).
   */
  stateStore?: StateStore;
  /** Turns the stored state `name` into one file; default relearn's zip export (state/state_export.ts). */
  exportState?: (store: StateStore, name: string) => Promise<Uint8Array>;
}

interface Session {
  updater: ModelUpdater;
  stateName: string | undefined;
}


/**
 * Serves update requests on `options.scope` (default: the worker's own
 * global scope) until the worker ends. Returns at once; every request is answered with a
 * result or an error message.
 */
export function serveUpdateWorker(options: UpdateWorkerOptions = {}): void {
  const scope = options.scope ?? (globalThis as unknown as WorkerScope);
  let session: Session | undefined;
  let queue: Promise<void> = Promise.resolve();
  const post = (message: WorkerToPage, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

  const handlers = {
    init: async (request: InitRequest): Promise<InitResult> => {
      if (session !== undefined) throw new OptionsError("this worker is already initialised: start a new worker for another updater");
      if (request.wasmPaths !== undefined) setWasmPaths(request.wasmPaths);
      const stateName = request.stateName;
      // The host's store (IndexedDB in a browser, folders in Node) unless the worker was given one.
      const store = stateName === undefined ? undefined : (options.stateStore ?? defaultStateStore());
      const resumed = stateName !== undefined && store !== undefined && (await store.holdsState(stateName));
      const updater = createUpdater(request.updater, {
        ...request.options,
        backend: request.backend ?? "wasm",
        ...(stateName === undefined || store === undefined ? {} : { outputStateFolder: stateName, stateStore: store }),
        ...(resumed ? { inputStateFolder: stateName } : {}),
      });
      await updater.prepare();
      session = { updater, stateName };
      const info = updater.backendInfo;
      return { backend: info?.name ?? "unknown", backendReason: info?.reason ?? "", updatesDone: updater.updatesDone, resumed };
    },

    update: async (request: Extract<PageToWorker, { type: "update" }>): Promise<UpdateSummary> => {
      const { updater, stateName } = started(session);
      const dataset = datasetFromMessage(request.dataset, `update ${updater.updatesDone + 1}'s dataset`);
      const update = updater.updatesDone + 1;
      const send = (kind: ProgressEvent["kind"]) => (event: Parameters<NonNullable<TrainingCallback["onBatchEnd"]>>[0]) =>
        post({ type: "progress", id: request.id, event: progressEvent(kind, event, update) });
      const progress: TrainingCallback = {
        onTrainBegin: send("train-begin"),
        onBatchEnd: send("batch"),
        onEpochEnd: send("epoch"),
        onTrainEnd: send("train-end"),
      };
      const started_ = performance.now();
      await updater.update(dataset, { ...(request.taskId === undefined ? {} : { taskId: request.taskId }), callbacks: [progress] });
      return {
        updatesDone: updater.updatesDone,
        taskId: request.taskId ?? "default_task",
        seconds: (performance.now() - started_) / 1000,
        phases: updater.lastUpdatePhases.map((p) => ({
          phase: p.phase,
          seconds: p.seconds,
          epochsRun: p.epochsRun,
          logs: { ...(p.history[p.history.length - 1] ?? {}) },
        })),
        ...(stateName === undefined ? {} : { stateName }),
      };
    },

    evaluate: async (request: Extract<PageToWorker, { type: "evaluate" }>): Promise<EvaluateResult> => {
      const { updater } = started(session);
      const results: EvaluateResult["results"] = [];
      for (const [i, entry] of request.datasets.entries()) {
        const dataset = datasetFromMessage(entry.dataset, `evaluation dataset ${i}`);
        results.push(await evaluateDataset(updater.model, dataset, entry.taskId === undefined ? {} : { taskId: entry.taskId }));
      }
      return { results };
    },

    "export-state": async (): Promise<ExportStateResult> => {
      const { stateName } = started(session);
      const exportState = options.exportState ?? exportStateArchive;
      const stateStore = options.stateStore ?? defaultStateStore();
      if (stateName === undefined) {
        throw new StateError("this worker stores no state (it was initialised without a stateName): there is nothing to export");
      }
      if (!(await stateStore.holdsState(stateName))) {
        throw new StateError(`no state "${stateName}" is stored yet: run an update first, then export`);
      }
      return { bytes: await exportState(stateStore, stateName), fileName: `${stateName.split(/[\\/]/).pop() || "state"}.relearn.zip` };
    },
  } satisfies { [K in PageToWorker["type"]]: (request: Extract<PageToWorker, { type: K }>) => Promise<ResultOf[K]> };

  const handle = async (request: PageToWorker): Promise<void> => {
    try {
      const handler = handlers[request.type] as ((r: PageToWorker) => Promise<ResultOf[keyof ResultOf]>) | undefined;
      if (handler === undefined) throw new OptionsError(`unknown request type ${JSON.stringify(request.type)}`);
      const result = await handler(request);
      post({ type: "result", id: request.id, result }, "bytes" in result ? [result.bytes.buffer as ArrayBuffer] : []);
    } catch (error) {
      post({ type: "error", id: request.id, error: errorToMessage(error) });
    }
  };

  scope.addEventListener("message", (event) => {
    const request = event.data;
    if (typeof request !== "object" || request === null || typeof request.id !== "number") {
      post({ type: "fatal", error: errorToMessage(new OptionsError("the update worker got a message that is no request (no numeric id)")) });
      return;
    }
    queue = queue.then(() => handle(request));
  });
}

function started(session: Session | undefined): Session {
  if (session === undefined) throw new OptionsError("the update worker is not initialised: send an init request first");
  return session;
}
