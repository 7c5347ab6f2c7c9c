/**
 * The browser demo: RD and fine-tuning learn the bundled Fashion-MNIST
 * subset's five class-incremental tasks side by side, one update at a time,
 * each in its own update worker. After every update both models are tested on
 * all five tasks; the rows are kept in localStorage next to the states the
 * workers keep in IndexedDB, so a reload resumes at the next update.
 */
import { classIncremental } from "../src/data/scenarios.js";
import type { Dataset } from "../src/data/dataset.js";
import { createUpdateWorker } from "../src/browser/worker_client.js";
import type { UpdateSummary } from "../src/browser/worker_protocol.js";
import type { ScenarioUpdate } from "../src/data/scenarios/common.js";
import { StateError } from "../src/errors.js";
import { loadFashionMnistSubset } from "./data.js";
import { LANES, TASKS, clearRows, loadRows, newLane, saveRows, stateName, type Lane } from "./lanes.js";
import { deleteDemoDatabase } from "./storage.js";
import { $, render as draw, renderLaneShells, renderTaskCards, showError, type DemoState } from "./view.js";

const state: DemoState = { tasks: [], lanes: LANES.map(newLane), busy: false };
const { lanes } = state;
/** Per update sent: whether the copy's arrays were left empty here (moved, not copied, to the worker). */
const transfers: boolean[] = [];
const render = () => draw(state);

function copyDataset(dataset: Dataset): Dataset {
  return { ...dataset, features: dataset.features.slice(), labels: dataset.labels.slice() };
}

async function startWorkers(): Promise<void> {
  // allSettled: a lane whose stored state cannot be read fails alone; "start over" then clears both.
  const outcomes = await Promise.allSettled(
    lanes.map(async (lane) => {
      const client = await createUpdateWorker(new URL("worker.js", location.href), {
        ...lane.spec.config,
        backend: "wasm",
        wasmPaths: new URL("wasm/", location.href).href,
        stateName: stateName(lane),
      });
      client.onProgress((event) => {
        if (lane.progress !== undefined && lane.progress.phase !== event.phase) lane.phasesDone.add(lane.progress.phase);
        lane.progress = event;
        if (event.kind === "train-end") lane.phasesDone.add(event.phase);
        render();
      });
      lane.client = client;
      lane.backend = client.info.backend;
      lane.resumed = client.info.resumed;
      lane.rows = loadRows(lane, client.info.updatesDone);
      // Rows lost with the storage (or recorded by an older page) are measured again for the current model.
      const lastIndex = lane.rows.length - 1;
      if (lastIndex >= 0 && lane.rows[lastIndex] === null) lane.rows[lastIndex] = await evaluateAll(lane);
      saveRows(lane);
    }),
  );
  render();
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

async function evaluateAll(lane: Lane): Promise<number[]> {
  const results = await lane.client!.evaluate(state.tasks.map((t) => ({ dataset: t.test, taskId: t.taskId })), { transfer: false });
  return results.map((r) => r.accuracy);
}

/**
 * The next update in every lane that has one, side by side. A lane ahead of
 * the other (a reload or a second tab stopped one lane mid-update) waits
 * while the other catches up, so the page always compares like with like.
 */
async function runNext(): Promise<void> {
  state.busy = true;
  render();
  try {
    const behind = Math.min(...lanes.map((lane) => lane.rows.length));
    // allSettled: a lane that fails must not free the buttons while the other still trains.
    const outcomes = await Promise.allSettled(
      lanes.map(async (lane) => {
        const next = lane.rows.length;
        const task = state.tasks[next];
        if (task === undefined || lane.client === undefined || next > behind) return;
        lane.running = true;
        lane.progress = undefined;
        lane.phasesDone = new Set();
        render();
        try {
          const summary = await updateWhenFree(lane, task);
          lane.lastSeconds = summary.seconds;
          lane.rows.push(await evaluateAll(lane));
          saveRows(lane);
          lane.phasesDone = new Set(lane.spec.phases);
        } catch (error) {
          lane.phasesDone = new Set();
          throw error;
        } finally {
          lane.running = false;
          render();
        }
      }),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  } finally {
    state.busy = false;
    render();
  }
}

/**
 * One update of `lane`. Right after a reload, the previous page's worker may
 * still hold the state's Web Lock for a moment (it is stopped with its page,
 * not at once): a "locked" refusal is retried for up to 5 s before it is shown.
 */
async function updateWhenFree(lane: Lane, task: ScenarioUpdate): Promise<UpdateSummary> {
  for (let attempt = 0; ; attempt++) {
    // Each worker gets its own copy, MOVED to it (transfer): the page keeps the original for "start over".
    const copy = copyDataset(task.train);
    const sent = lane.client!.update(copy, { taskId: task.taskId });
    transfers.push(copy.features.byteLength === 0 && copy.labels.byteLength === 0);
    try {
      return await sent;
    } catch (error) {
      if (!(error instanceof StateError && / is locked: /.test(error.message)) || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function runAll(): Promise<void> {
  while (Math.min(...lanes.map((l) => l.rows.length)) < TASKS) await runNext();
}

/** Forgets everything: workers stopped, stored states and rows deleted, fresh workers started. */
async function startOver(): Promise<void> {
  state.busy = true;
  render();
  try {
    for (const lane of lanes) {
      lane.client?.terminate();
      lane.client = undefined;
      lane.rows = [];
      lane.progress = undefined;
      lane.lastSeconds = undefined;
      lane.resumed = false;
      lane.phasesDone = new Set();
      clearRows(lane);
    }
    // The workers are gone, and their connections and Web Locks with them.
    await deleteDemoDatabase();
    render();
    await startWorkers();
  } finally {
    state.busy = false;
    render();
  }
}

async function exportLane(lane: Lane): Promise<void> {
  if (lane.client === undefined) return;
  const { bytes, fileName } = await lane.client.exportState();
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/zip" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: fileName });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const guarded = (action: () => Promise<void>) => () => {
  $("#error").style.display = "none";
  action().catch(showError);
};

async function main(): Promise<void> {
  const { train, test } = await loadFashionMnistSubset(new URL("data/", location.href).href);
  state.tasks = classIncremental({ train, test, tasks: TASKS, classOrder: "natural", seed: 0 });
  renderTaskCards(state);
  renderLaneShells(state, (lane) => void exportLane(lane).catch(showError));
  $("#status").textContent = "Starting two workers…";
  render();
  $("#next").addEventListener("click", guarded(runNext));
  $("#all").addEventListener("click", guarded(runAll));
  $("#reset").addEventListener("click", guarded(async () => {
    if (window.confirm("Start over? Both models and their accuracy history are deleted from this browser.")) await startOver();
  }));
  state.busy = true;
  try {
    await startWorkers();
  } finally {
    state.busy = false;
    render();
  }
}

/** For the browser test: the page's progress, readable from outside. */
declare global {
  interface Window {
    relearnDemo: {
      ready: Promise<void>;
      runNext: () => Promise<void>;
      rows: () => Record<string, (number[] | null)[]>;
      transfers: () => boolean[];
    };
  }
}
const ready = main();
ready.catch(showError);
window.relearnDemo = {
  ready,
  runNext,
  rows: () => Object.fromEntries(lanes.map((l) => [l.spec.key, l.rows])),
  transfers: () => [...transfers],
};
