/**
 * The page side of an update worker: start it, send it datasets, await the
 * answers, listen to progress.
 *
 *   const worker = await createUpdateWorker(new URL("./worker.js", import.meta.url), {
 *     updater: "rd", options: { model: spec, memorySize: 500, maxEpochs: 2 }, stateName: "my-model",
 *   });
 *   worker.onProgress((e) => bar.value = e.step / e.stepsPerEpoch);
 *   const summary = await worker.update(dataset, { taskId: "default_task" });
 *
 * `update` and `evaluate` MOVE the datasets' arrays to the worker (transfer):
 * afterwards the page's arrays are empty. Pass `{ transfer: false }` to send a
 * copy instead and keep them. An array that is a view into a larger buffer
 * is always copied, so the rest of that buffer stays usable on the page.
 */
import type { Dataset } from "../data/dataset.js";
import { OptionsError } from "../errors.js";
import {
  datasetToMessage,
  errorFromMessage,
  transferList,
  type DatasetMessage,
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

/** What the client needs of a Worker (a MessagePort works too, which is how Node tests drive it). */
export interface WorkerLike {
  postMessage(message: PageToWorker, transfer: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<WorkerToPage>) => void): void;
  addEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
  terminate?(): void;
  /** MessagePort only: starts delivery. */
  start?(): void;
}

/** init's fields without the request id. */
export type UpdateWorkerConfig = Omit<InitRequest, "type" | "id">;

/** Whether datasets move to the worker (default) or are copied. */
export interface SendOptions {
  /** true (default): the arrays move and are empty afterwards; false: a copy is sent. */
  transfer?: boolean;
}

export interface UpdateWorkerClient {
  /** What init answered: backend, updates already done, whether the state was resumed. */
  readonly info: InitResult;
  /** One update on `dataset` (its arrays move to the worker unless transfer is false). */
  update(dataset: Dataset, options?: { taskId?: string } & SendOptions): Promise<UpdateSummary>;
  /** Accuracy and loss of the current model on each dataset, in order. */
  evaluate(datasets: readonly { dataset: Dataset; taskId?: string }[], options?: SendOptions): Promise<EvaluateResult["results"]>;
  /** The stored state as one .zip file's bytes. */
  exportState(): Promise<ExportStateResult>;
  /** Calls `listener` with every progress event; returns a function that removes it. */
  onProgress(listener: (event: ProgressEvent) => void): () => void;
  /** Stops the worker at once; pending requests fail. */
  terminate(): void;
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/**
 * The array to send: itself when it may move (transfer, and it spans its
 * whole buffer), else a copy. Transfer moves whole ArrayBuffers, so moving a
 * view into a larger buffer would empty every other view of that buffer too.
 */
function movable<T extends Float32Array | Int32Array>(array: T, transfer: boolean): T {
  const wholeBuffer = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength;
  return transfer && wholeBuffer ? array : (array.slice() as T);
}

/**
 * Starts the worker at `source` (a module worker is created from a URL) or
 * wraps a Worker you made, and initialises it with `config`. Rejects with the
 * worker's own error (e.g. a StateError for a damaged stored state).
 */
export async function createUpdateWorker(source: string | URL | WorkerLike, config: UpdateWorkerConfig): Promise<UpdateWorkerClient> {
  const worker: WorkerLike = typeof source === "string" || source instanceof URL ? new Worker(source, { type: "module" }) : source;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: ProgressEvent) => void>();
  let nextId = 1;
  let ended: Error | undefined;

  const failAll = (error: Error) => {
    ended ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  worker.addEventListener("message", (event) => {
    const message = event.data;
    if (message.type === "progress") {
      for (const listener of listeners) listener(message.event);
      return;
    }
    if (message.type === "fatal") {
      failAll(errorFromMessage(message.error));
      return;
    }
    const request = pending.get(message.id);
    if (request === undefined) return;
    pending.delete(message.id);
    if (message.type === "result") request.resolve(message.result);
    else request.reject(errorFromMessage(message.error));
  });
  // A worker script that fails to load or throws outside a request ends here, not in a message.
  worker.addEventListener("error", (event) => {
    event.preventDefault?.();
    failAll(new Error(`the update worker failed: ${event.message || "its script could not be loaded or threw"}${event.filename ? ` (${event.filename}:${event.lineno})` : ""}`));
  });
  worker.start?.();

  const send = <K extends keyof ResultOf>(request: Omit<Extract<PageToWorker, { type: K }>, "id">, datasets: DatasetMessage[]): Promise<ResultOf[K]> => {
    if (ended !== undefined) return Promise.reject(ended);
    const id = nextId++;
    const message = { ...request, id } as PageToWorker;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      try {
        worker.postMessage(message, transferList(datasets));
      } catch (error) {
        pending.delete(id);
        reject(error as Error);
      }
    });
  };

  const outgoing = (dataset: Dataset, options: SendOptions): DatasetMessage => {
    const message = datasetToMessage(dataset);
    const transfer = options.transfer ?? true;
    return { ...message, features: movable(message.features, transfer), labels: movable(message.labels, transfer) };
  };

  let info: InitResult;
  try {
    info = await send<"init">({ type: "init", ...config }, []);
  } catch (error) {
    worker.terminate?.();
    throw error;
  }

  return {
    info,
    update(dataset, options = {}) {
      const message = outgoing(dataset, options);
      return send<"update">({ type: "update", dataset: message, ...(options.taskId === undefined ? {} : { taskId: options.taskId }) }, [message]);
    },
    async evaluate(datasets, options = {}) {
      const entries = datasets.map(({ dataset, taskId }) => ({ dataset: outgoing(dataset, options), ...(taskId === undefined ? {} : { taskId }) }));
      const answer = await send<"evaluate">({ type: "evaluate", datasets: entries }, entries.map((e) => e.dataset));
      return answer.results;
    },
    exportState() {
      return send<"export-state">({ type: "export-state" }, []);
    },
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    terminate() {
      worker.terminate?.();
      failAll(new OptionsError("the update worker was terminated"));
    },
  };
}
