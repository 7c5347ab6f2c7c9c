/**
 * The messages between a page and an update worker (update_worker.ts runs in
 * the worker, worker_client.ts on the page). Every request carries an `id`;
 * the worker answers it with exactly one `result` or `error` of that id, and
 * may send `progress` events of that id before. Requests are handled one at a
 * time, in order.
 *
 * Datasets cross as typed arrays whose buffers go in the postMessage transfer
 * list: they MOVE to the worker (the sender's arrays are detached afterwards,
 * length 0), so a 30 MB chunk costs no copy and no second 30 MB of memory.
 *
 * Errors cross as { name, message }: structured clone keeps neither the class
 * nor relearn's error names, so `errorFromMessage` rebuilds the relearn class
 * of that name (a StateError stays `instanceof StateError` on the page).
 * Browser-only in use, but plain data: nothing here touches a worker API.
 */
import {
  BackendError,
  DataError,
  MemoryError,
  ModelError,
  OptionsError,
  RelearnError,
  StateError,
  TrainingError,
} from "../errors.js";
import { createDataset, type Dataset } from "../data/dataset.js";
import type { BackendName } from "../backend/backend.js";
import type { ModelSpec } from "../model/spec.js";
import type { TrainingEvent } from "../training/callbacks.js";
import type { OptimizerSpec } from "../training/optimizers.js";

/** A Dataset as it crosses to the worker (its arrays' buffers are transferred). */
export interface DatasetMessage {
  features: Float32Array;
  labels: Int32Array;
  featureShape: number[];
  numClasses: number;
}

/**
 * The JSON options of the updater in the worker: everything of
 * ModelUpdaterOptions that survives structured clone (no functions), plus
 * memorySize for updaters with a memory. `model` is a ModelSpec (a tfjs
 * LayersModel cannot cross to a worker).
 */
export interface WorkerUpdaterOptions {
  model?: ModelSpec;
  seed?: number;
  batchSize?: number;
  maxEpochs?: number;
  memorySize?: number;
  /** RD only: epochs of the consolidation phase (default maxEpochs). */
  consolidationEpochs?: number;
  optimizer?: OptimizerSpec;
  maskUnusedClasses?: boolean;
  /** Let an update grow the output layer for classes the model has no output for (ModelUpdaterOptions.growClasses). */
  growClasses?: boolean;
  [key: string]: unknown;
}

/** What the worker is started with (the first request). */
export interface InitRequest {
  type: "init";
  id: number;
  /** Backend to start in the worker: "wasm" (default), "cpu", "webgl", "auto". */
  backend?: BackendName;
  /**
   * Where tfjs-backend-wasm's .wasm files are served (a folder URL ending in
   * "/", or a map of file name to URL), given to `setWasmPaths`. Needed
   * whenever the bundle is served from elsewhere than the .wasm files.
   */
  wasmPaths?: string | Record<string, string>;
  /** Updater name in the registry: "rd", "fine-tuning", "er", ... */
  updater: string;
  options: WorkerUpdaterOptions;
  /**
   * Name of the state in the worker's store (IndexedDB in a browser). When
   * the store holds it, the updater resumes from it; every update replaces
   * it. Omitted: nothing is stored (the model lives only as long as the worker).
   */
  stateName?: string;
}

export interface UpdateRequest {
  type: "update";
  id: number;
  dataset: DatasetMessage;
  taskId?: string;
}

/** Accuracy of the current model on labelled sets (the rows of an accuracy matrix). */
export interface EvaluateRequest {
  type: "evaluate";
  id: number;
  datasets: { dataset: DatasetMessage; taskId?: string }[];
}

/** The stored state as one file (see state export); needs a stateName and a stored state. */
export interface ExportStateRequest {
  type: "export-state";
  id: number;
}

export type PageToWorker = InitRequest | UpdateRequest | EvaluateRequest | ExportStateRequest;

/** Live progress of an update, sent from the training callbacks. */
export interface ProgressEvent {
  /** "train-begin", "batch" (after each optimizer step), "epoch" (after each epoch), "train-end". */
  kind: "train-begin" | "batch" | "epoch" | "train-end";
  /** Training phase: "expert" and "consolidation" for RD, "fine-tuning", ... */
  phase: string;
  taskId: string;
  /** 0-based epoch (-1 before the first) and the phase's epoch count. */
  epoch: number;
  epochs: number;
  /** 0-based step in the epoch (batch events) and the steps per epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Mean training loss of the epoch: set on epoch and train-end events only (batch events never read the device). */
  loss?: number;
  /** Every metric of the epoch (train_loss, train_accuracy, ...) on epoch and train-end events. */
  logs: Record<string, number>;
  /** 1-based number of the update this event belongs to. */
  update: number;
}

/** What the worker answers to init. */
export interface InitResult {
  /** The tfjs backend running in the worker ("wasm", "cpu", ...) and why. */
  backend: string;
  backendReason: string;
  /** Updates already done: those of the resumed state, 0 for a fresh start. */
  updatesDone: number;
  /** True when the updater resumed from the stored state `stateName`. */
  resumed: boolean;
}

/** What the worker answers to an update. */
export interface UpdateSummary {
  /** Updates done so far, this one included. */
  updatesDone: number;
  taskId: string;
  /** Wall-clock seconds of the whole update, state write included. */
  seconds: number;
  phases: { phase: string; seconds: number; epochsRun: number; logs: Record<string, number> }[];
  /** The state written, when the worker has a stateName. */
  stateName?: string;
}

export interface EvaluateResult {
  /** One per dataset, in order: accuracy in [0, 1] and mean cross-entropy loss. */
  results: { accuracy: number; loss: number }[];
}

export interface ExportStateResult {
  /** The exported file's bytes (transferred). */
  bytes: Uint8Array;
  /** A file name for a download, e.g. "demo-rd.relearn.zip". */
  fileName: string;
}

/** Results by request type. */
export interface ResultOf {
  init: InitResult;
  update: UpdateSummary;
  evaluate: EvaluateResult;
  "export-state": ExportStateResult;
}

/** An error as it crosses back to the page. */
export interface ErrorMessage {
  name: string;
  message: string;
  stack?: string;
}

export type WorkerToPage =
  | { type: "progress"; id: number; event: ProgressEvent }
  | { type: "result"; id: number; result: ResultOf[keyof ResultOf] }
  | { type: "error"; id: number; error: ErrorMessage }
  /** An error no request owns (a message the worker cannot read); the client fails every pending request with it. */
  | { type: "fatal"; error: ErrorMessage };

/** The plain-data form of a Dataset; its arrays are the dataset's own (not copied). */
export function datasetToMessage(dataset: Dataset): DatasetMessage {
  return {
    features: dataset.features,
    labels: dataset.labels,
    featureShape: [...dataset.featureShape],
    numClasses: dataset.numClasses,
  };
}

/** Rebuilds a Dataset, checking every invariant again (a message is untrusted input); a DataError names `source`. */
export function datasetFromMessage(message: DatasetMessage, source: string): Dataset {
  if (typeof message !== "object" || message === null || !(message.features instanceof Float32Array) || !(message.labels instanceof Int32Array)) {
    throw new DataError(`${source}: expected { features: Float32Array, labels: Int32Array, featureShape, numClasses }`);
  }
  return createDataset(message, source);
}

/**
 * The buffers to put in postMessage's transfer list for these datasets:
 * each distinct ArrayBuffer once (two arrays may share one; listing it twice
 * is a DataCloneError).
 */
export function transferList(datasets: readonly DatasetMessage[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const d of datasets) {
    for (const array of [d.features, d.labels]) {
      if (array.buffer.byteLength === 0) {
        throw new DataError(
          "a dataset's arrays are detached (length 0): they were already sent to a worker, which moves them; " +
            "send a copy (dataset.features.slice()) to keep using them on the page",
        );
      }
      // A SharedArrayBuffer is shared, not moved; it cannot be in a transfer list.
      if (array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
    }
  }
  return [...buffers];
}

/** relearn's error classes by name; subclasses before RelearnError, so the first instanceof match is the most specific. */
const ERROR_CLASSES: readonly [string, new (message: string) => Error][] = [
  ["OptionsError", OptionsError],
  ["DataError", DataError],
  ["ModelError", ModelError],
  ["MemoryError", MemoryError],
  ["TrainingError", TrainingError],
  ["StateError", StateError],
  ["BackendError", BackendError],
  ["RelearnError", RelearnError],
];

/**
 * The cloneable form of anything thrown. A relearn error is named by its
 * class, found with instanceof (a subclass a user defines, whatever its
 * name, crosses as the relearn class it extends).
 */
export function errorToMessage(error: unknown): ErrorMessage {
  if (error instanceof Error) {
    const name = ERROR_CLASSES.find(([, Class]) => error instanceof Class)?.[0] ?? error.name;
    return { name, message: error.message, ...(error.stack === undefined ? {} : { stack: error.stack }) };
  }
  return { name: "Error", message: String(error) };
}

/**
 * The error again, as the relearn class of its name when there is one
 * (StateError, OptionsError, ...), else an Error with that name. The stack is
 * the worker's, so a report points at where it failed.
 */
export function errorFromMessage(message: ErrorMessage): Error {
  const Class = ERROR_CLASSES.find(([name]) => name === message.name)?.[1];
  const error = Class ? new Class(message.message) : new Error(message.message);
  error.name = message.name;
  if (message.stack !== undefined) error.stack = message.stack;
  return error;
}

/** The progress event of a training callback event. */
export function progressEvent(kind: ProgressEvent["kind"], event: TrainingEvent, update: number): ProgressEvent {
  const loss = event.logs["train_loss"] ?? event.logs["loss"];
  return {
    kind,
    phase: event.phase,
    taskId: event.taskId,
    epoch: event.epoch,
    epochs: event.epochs,
    step: event.step,
    stepsPerEpoch: event.stepsPerEpoch,
    ...(loss === undefined ? {} : { loss }),
    logs: { ...event.logs },
    update,
  };
}
