/**
 * The browser demo: RD and fine-tuning learn the bundled Fashion-MNIST
 * subset's five class-incremental tasks side by side, one update at a time,
 * each in its own update worker. After every update both models are tested on
 * all five tasks; the rows are kept in localStorage next to the states the
 * workers keep in IndexedDB, so a reload resumes at the next update.
 */
import { classIncremental, type ScenarioUpdate } from "../src/data/scenarios.js";
import type { Dataset } from "../src/data/dataset.js";
import { createUpdateWorker, type UpdateWorkerClient, type UpdateWorkerConfig } from "../src/browser/worker_client.js";
import type { ProgressEvent } from "../src/browser/worker_protocol.js";
import { TASK_COLOURS, accuracyMatrixSvg, legendHtml, lineChartSvg } from "./charts.js";
import { loadFashionMnistSubset } from "./data.js";
import { deleteDemoDatabase } from "./storage.js";

const TASKS = 5;
/** Fashion-MNIST's labels (as FASHION_MNIST_CLASSES in src/data/fashion_mnist.ts, a Node-only module). */
const CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
/** Where the demo keeps its progress; bump when the settings below change, so old rows are not mixed with new ones. */
const STORAGE_PREFIX = "relearn-demo:v1:";

const COMMON = {
  model: { type: "mlp" as const, inputShape: [784], hidden: [128], classes: 10 },
  seed: 0,
  maxEpochs: 2,
  batchSize: 32,
};

interface LaneSpec {
  key: string;
  title: string;
  colour: string;
  blurb: string;
  phases: string[];
  config: UpdateWorkerConfig;
}

const LANES: LaneSpec[] = [
  {
    key: "rd",
    title: "Repeated Distillation",
    colour: "var(--rd)",
    blurb: "A fresh expert learns the new classes, then the model is rebuilt by distilling the expert and itself over a 500-image memory.",
    phases: ["expert", "consolidation"],
    config: { updater: "rd", options: { ...COMMON, memorySize: 500, consolidationEpochs: 10 } },
  },
  {
    key: "ft",
    title: "Fine-tuning",
    colour: "var(--ft)",
    blurb: "The model keeps training on each new chunk alone, as tfjs's model.fit would. Watch the old tasks fall to zero.",
    phases: ["fine-tuning"],
    config: { updater: "fine-tuning", options: COMMON },
  },
];

/** One lane's live state. */
interface Lane {
  spec: LaneSpec;
  client: UpdateWorkerClient | undefined;
  /** rows[u]: accuracy on each task after update u+1; null when not recorded (cleared storage). */
  rows: (number[] | null)[];
  running: boolean;
  progress: ProgressEvent | undefined;
  /** Phases finished in the running update. */
  phasesDone: Set<string>;
  backend: string;
  lastSeconds: number | undefined;
  /** True when the worker resumed a state stored by an earlier visit. */
  resumed: boolean;
}

const $ = <T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (found === null) throw new Error(`demo page: no element ${selector}`);
  return found;
};

let tasks: ScenarioUpdate[] = [];
const lanes: Lane[] = LANES.map((spec) => ({ spec, client: undefined, rows: [], running: false, progress: undefined, phasesDone: new Set(), backend: "", lastSeconds: undefined, resumed: false }));
let busy = false;
/** Per update sent: whether the copy's arrays were left empty here (moved, not copied, to the worker). */
const transfers: boolean[] = [];

function stateName(lane: Lane): string {
  return `relearn-demo-${lane.spec.key}`;
}

function loadRows(lane: Lane, updatesDone: number): (number[] | null)[] {
  let rows: (number[] | null)[] = [];
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_PREFIX + lane.spec.key) ?? "[]") as unknown;
    if (Array.isArray(stored)) rows = stored as (number[] | null)[];
  } catch {
    rows = [];
  }
  // The stored model is the truth: as many rows as it has updates, unknown ones null.
  return Array.from({ length: updatesDone }, (_, i) => rows[i] ?? null);
}

function saveRows(lane: Lane): void {
  localStorage.setItem(STORAGE_PREFIX + lane.spec.key, JSON.stringify(lane.rows));
}

function copyDataset(dataset: Dataset): Dataset {
  return { ...dataset, features: dataset.features.slice(), labels: dataset.labels.slice() };
}

function taskLabel(i: number): string {
  const classes = tasks[i]?.classes ?? [];
  return classes.map((c) => CLASS_NAMES[c]).join(" & ");
}

// ---- rendering -------------------------------------------------------------

function renderTaskCards(): void {
  const section = $("#tasks");
  section.innerHTML = tasks
    .map(
      (_, i) => `<div class="task card" style="--task:${TASK_COLOURS[i]}" data-task="${i}">
        <div class="head"><span>Update ${i + 1}</span><span class="badge"></span></div>
        <div class="names" title="${taskLabel(i)}">${taskLabel(i)}</div>
        <canvas width="168" height="56"></canvas></div>`,
    )
    .join("");
  tasks.forEach((task, i) => drawThumbnails($<HTMLCanvasElement>(`[data-task="${i}"] canvas`), task.test));
}

/** Six test images of the task (three per class), 28x28 each, side by side. */
function drawThumbnails(canvas: HTMLCanvasElement, test: Dataset): void {
  const context = canvas.getContext("2d");
  if (context === null) return;
  const picks: number[] = [];
  for (const label of new Set(test.labels)) {
    let found = 0;
    for (let r = 0; r < test.length && found < 3; r++) {
      if (test.labels[r] === label) {
        picks.push(r);
        found++;
      }
    }
  }
  const image = context.createImageData(28 * 6, 28);
  picks.slice(0, 6).forEach((row, k) => {
    for (let p = 0; p < 784; p++) {
      const v = 255 - Math.round(test.features[row * 784 + p]! * 255);
      const at = 4 * ((p / 28 | 0) * 28 * 6 + k * 28 + (p % 28));
      image.data[at] = image.data[at + 1] = image.data[at + 2] = v;
      image.data[at + 3] = 255;
    }
  });
  const scratch = document.createElement("canvas");
  scratch.width = image.width;
  scratch.height = image.height;
  scratch.getContext("2d")?.putImageData(image, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

function renderLaneShells(): void {
  $("main.lanes").innerHTML = lanes
    .map(
      ({ spec }) => `<article class="lane card" id="lane-${spec.key}" style="--accent:${spec.colour}">
        <div class="title"><h2>${spec.title}</h2><span class="badge backend"></span></div>
        <p class="blurb">${spec.blurb}</p>
        <div class="progress">
          <div class="line"><span class="now">Waiting</span><span class="loss"></span></div>
          <div class="phases">${spec.phases.map((p) => `<div class="phase" data-phase="${p}">${p}<div class="bar"><i></i></div></div>`).join("")}</div>
        </div>
        <div class="stats">
          <div class="stat"><div class="v avg">–</div><div class="k">average accuracy, tasks seen</div></div>
          <div class="stat"><div class="v forget">–</div><div class="k">forgetting (points lost)</div></div>
          <div class="stat"><div class="v first">–</div><div class="k">task 1 now</div></div>
        </div>
        <div class="charts">
          <div><h3>Accuracy matrix (%)</h3><div class="matrix-box"></div></div>
          <div><h3>Accuracy per task</h3><div class="lines-box"></div><div class="legend-box"></div></div>
        </div>
        <footer><button class="export" disabled>Export state (.zip)</button></footer>
      </article>`,
    )
    .join("");
  for (const lane of lanes) $(`#lane-${lane.spec.key} .export`).addEventListener("click", () => void exportLane(lane));
}

/** Mean accuracy over the tasks taught up to update u (0-based), or null when the row is unknown. */
function seenAverage(row: readonly number[] | null, u: number): number | null {
  if (row === null) return null;
  const seen = row.slice(0, u + 1);
  return seen.reduce((a, b) => a + b, 0) / seen.length;
}

/** Mean over old tasks of (best accuracy ever - accuracy now). */
function forgettingOf(rows: readonly (number[] | null)[]): number | null {
  const last = rows.length - 1;
  const now = rows[last];
  if (now == null || last < 1) return null;
  let total = 0;
  for (let j = 0; j < last; j++) {
    let best = 0;
    for (let i = j; i < last; i++) best = Math.max(best, rows[i]?.[j] ?? 0);
    total += Math.max(0, best - now[j]!);
  }
  return total / last;
}

const pct = (v: number | null) => (v === null ? "–" : `${Math.round(v * 100)}%`);

function renderLane(lane: Lane): void {
  const root = $(`#lane-${lane.spec.key}`);
  $(".backend", root).textContent = lane.backend ? `tfjs ${lane.backend}` : "starting…";
  // Progress.
  const p = lane.progress;
  const now = $(".now", root);
  if (lane.running && p !== undefined) {
    const epoch = Math.max(0, p.epoch) + 1;
    now.innerHTML = `<b>Update ${p.update}</b> · ${p.phase} · epoch ${Math.min(epoch, p.epochs)}/${p.epochs}`;
  } else if (lane.running) {
    now.innerHTML = `<b>Update ${lane.rows.length + 1}</b> · starting`;
  } else if (lane.rows.length === TASKS) {
    now.textContent = "All five tasks learned";
  } else {
    const next = `ready for update ${lane.rows.length + 1}`;
    now.textContent =
      lane.lastSeconds !== undefined ? `Update ${lane.rows.length} took ${lane.lastSeconds.toFixed(1)} s; ${next}`
      : lane.resumed ? `Resumed ${lane.rows.length} update${lane.rows.length === 1 ? "" : "s"} from IndexedDB; ${next}`
      : `Fresh model; ${next}`;
  }
  $(".loss", root).textContent = p?.loss !== undefined && lane.running ? `loss ${p.loss.toFixed(3)}` : "";
  for (const phase of lane.spec.phases) {
    const bar = $<HTMLElement>(`[data-phase="${phase}"] i`, root);
    let fraction = 0;
    if (lane.phasesDone.has(phase)) fraction = 1;
    else if (lane.running && p?.phase === phase && p.epochs > 0) {
      const within = p.kind === "batch" ? (p.step + 1) / Math.max(1, p.stepsPerEpoch) : p.kind === "epoch" ? 1 : 0;
      fraction = Math.min(1, (Math.max(0, p.epoch) + within) / p.epochs);
    }
    bar.style.width = `${(fraction * 100).toFixed(1)}%`;
  }
  // Numbers and charts.
  const u = lane.rows.length - 1;
  const lastRow = lane.rows[u] ?? null;
  $(".avg", root).textContent = pct(u >= 0 ? seenAverage(lastRow, u) : null);
  $(".forget", root).textContent = (() => {
    const f = forgettingOf(lane.rows);
    return f === null ? "–" : `${Math.round(f * 100)}`;
  })();
  $(".first", root).textContent = pct(lastRow?.[0] ?? null);
  $(".matrix-box", root).innerHTML = accuracyMatrixSvg(lane.rows, TASKS);
  const series = tasks.map((_, j) => ({
    name: `task ${j + 1} (${taskLabel(j)})`,
    colour: TASK_COLOURS[j]!,
    values: Array.from({ length: TASKS }, (_, i) => (i >= j ? (lane.rows[i]?.[j] ?? null) : null)),
  }));
  $(".lines-box", root).innerHTML = lineChartSvg(series, TASKS, { width: 270, height: 170 });
  $(".legend-box", root).innerHTML = legendHtml(series.map((s, j) => ({ name: `task ${j + 1}`, colour: s.colour })));
  $<HTMLButtonElement>(".export", root).disabled = busy || lane.rows.length === 0;
}

function renderCompare(): void {
  const series = lanes.map((lane) => ({
    name: lane.spec.title,
    colour: lane.spec.key === "rd" ? "#2a7de1" : "#e0663b",
    width: 3,
    values: Array.from({ length: TASKS }, (_, u) => seenAverage(lane.rows[u] ?? null, u)),
  }));
  $("#compare-chart").innerHTML = lineChartSvg(series, TASKS, { width: 360, height: 170 }) + legendHtml(series);
  const done = Math.min(...lanes.map((l) => l.rows.length));
  if (done >= 2) {
    const [rd, ft] = series.map((s) => s.values[done - 1] ?? null);
    $("#compare-text").innerHTML =
      `After ${done} updates, RD is right on <b>${pct(rd ?? null)}</b> of the test images of the classes seen so far; fine-tuning on <b>${pct(ft ?? null)}</b>, ` +
      `because it only knows the classes of its last update. The gap is what forgetting costs.`;
  }
}

function renderControls(): void {
  const done = Math.min(...lanes.map((l) => l.rows.length));
  const ready = lanes.every((l) => l.client !== undefined);
  $<HTMLButtonElement>("#next").disabled = busy || !ready || done >= TASKS;
  $<HTMLButtonElement>("#all").disabled = busy || !ready || done >= TASKS;
  $<HTMLButtonElement>("#reset").disabled = busy || !ready;
  for (const [i] of tasks.entries()) {
    const badge = $(`[data-task="${i}"] .badge`);
    const state = i < done ? "done" : i === done && busy ? "running" : i === done ? "next" : "";
    badge.className = `badge ${state}`;
    badge.textContent = { done: "learned", running: "learning…", next: "next", "": "" }[state];
  }
  const status = $("#status");
  if (!ready) return;
  if (busy) status.innerHTML = `<b>Running update ${done + 1} of ${TASKS}</b>: both models learn ${taskLabel(done)}, each in its worker.`;
  else if (done >= TASKS) status.innerHTML = `<b>All ${TASKS} updates done.</b> Compare the matrices: RD keeps the old tasks, fine-tuning only knows the last one.`;
  else status.innerHTML = `<b>Next: update ${done + 1} of ${TASKS}</b>, ${taskLabel(done)}.${done > 0 ? " Reload the page any time: it resumes here." : ""}`;
}

let frame = 0;
function render(): void {
  if (frame !== 0) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    for (const lane of lanes) renderLane(lane);
    renderCompare();
    renderControls();
  });
}

function showError(error: unknown): void {
  const box = $("#error");
  const e = error instanceof Error ? error : new Error(String(error));
  box.style.display = "block";
  box.textContent = `${e.name}: ${e.message}`;
  console.error(e);
}

// ---- workers and updates ---------------------------------------------------

async function startWorkers(): Promise<void> {
  await Promise.all(
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
}

async function evaluateAll(lane: Lane): Promise<number[]> {
  const results = await lane.client!.evaluate(tasks.map((t) => ({ dataset: t.test, taskId: t.taskId })), { transfer: false });
  return results.map((r) => r.accuracy);
}

/** The next update in every lane that has one, side by side. */
async function runNext(): Promise<void> {
  busy = true;
  render();
  try {
    await Promise.all(
      lanes.map(async (lane) => {
        const next = lane.rows.length;
        const task = tasks[next];
        if (task === undefined || lane.client === undefined) return;
        lane.running = true;
        lane.progress = undefined;
        lane.phasesDone = new Set();
        render();
        try {
          // Each worker gets its own copy, MOVED to it (transfer): the page keeps the original for "start over".
          const copy = copyDataset(task.train);
          const sent = lane.client.update(copy, { taskId: task.taskId });
          transfers.push(copy.features.byteLength === 0 && copy.labels.byteLength === 0);
          const summary = await sent;
          lane.lastSeconds = summary.seconds;
          lane.rows.push(await evaluateAll(lane));
          saveRows(lane);
        } finally {
          lane.running = false;
          lane.phasesDone = new Set(lane.spec.phases);
          render();
        }
      }),
    );
  } finally {
    busy = false;
    render();
  }
}

async function runAll(): Promise<void> {
  while (Math.min(...lanes.map((l) => l.rows.length)) < TASKS) await runNext();
}

/** Forgets everything: workers stopped, stored states and rows deleted, fresh workers started. */
async function startOver(): Promise<void> {
  busy = true;
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
      localStorage.removeItem(STORAGE_PREFIX + lane.spec.key);
    }
    // The workers are gone, and their connections and Web Locks with them.
    await deleteDemoDatabase();
    render();
    await startWorkers();
  } finally {
    busy = false;
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
  tasks = classIncremental({ train, test, tasks: TASKS, classOrder: "natural", seed: 0 });
  renderTaskCards();
  renderLaneShells();
  $("#status").textContent = "Starting two workers…";
  render();
  $("#next").addEventListener("click", guarded(runNext));
  $("#all").addEventListener("click", guarded(runAll));
  $("#reset").addEventListener("click", guarded(startOver));
  await startWorkers();
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
