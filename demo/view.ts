/**
 * Drawing the demo page from its state: task cards, the two lanes (progress,
 * numbers, accuracy matrix and per-task chart), the RD vs fine-tuning chart
 * and the controls. Nothing here starts work; main.ts does.
 */
import type { Dataset } from "../src/data/dataset.js";
import type { ScenarioUpdate } from "../src/data/scenarios.js";
import { averageAccuracy, forgetting } from "../src/metrics/continual.js";
import { TASK_COLOURS, accuracyMatrixSvg, legendHtml, lineChartSvg } from "./charts.js";
import { CLASS_NAMES, TASKS, type Lane } from "./lanes.js";

/** What the page shows. */
export interface DemoState {
  tasks: ScenarioUpdate[];
  lanes: Lane[];
  /** An update (or start over) is running: the buttons wait. */
  busy: boolean;
}

export const $ = <T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (found === null) throw new Error(`demo page: no element ${selector}`);
  return found;
};

/** "T-shirt/top & Trouser": the classes of task i. */
export function taskLabel(state: DemoState, i: number): string {
  const classes = state.tasks[i]?.classes ?? [];
  return classes.map((c) => CLASS_NAMES[c]).join(" & ");
}

/** The five task cards, with six test images each. */
export function renderTaskCards(state: DemoState): void {
  const section = $("#tasks");
  section.innerHTML = state.tasks
    .map(
      (_, i) => `<div class="task card" style="--task:${TASK_COLOURS[i]}" data-task="${i}">
        <div class="head"><span>Update ${i + 1}</span><span class="badge"></span></div>
        <div class="names" title="${taskLabel(state, i)}">${taskLabel(state, i)}</div>
        <canvas width="168" height="56"></canvas></div>`,
    )
    .join("");
  state.tasks.forEach((task, i) => drawThumbnails($<HTMLCanvasElement>(`[data-task="${i}"] canvas`), task.test));
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

/** The lanes' fixed markup; `onExport` is called by a lane's export button. */
export function renderLaneShells(state: DemoState, onExport: (lane: Lane) => void): void {
  $("main.lanes").innerHTML = state.lanes
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
  for (const lane of state.lanes) $(`#lane-${lane.spec.key} .export`).addEventListener("click", () => onExport(lane));
}

/** The rows up to update u as an accuracy matrix, or null when one of them was lost. */
function knownMatrix(rows: readonly (number[] | null)[], u: number): number[][] | null {
  const head = rows.slice(0, u + 1);
  return u >= 0 && head.length === u + 1 && head.every((row) => row !== null) ? (head as number[][]) : null;
}

/** Mean accuracy over the tasks taught up to update u (0-based), or null when unknown. */
function seenAverage(rows: readonly (number[] | null)[], u: number): number | null {
  const matrix = knownMatrix(rows, u);
  return matrix === null ? null : averageAccuracy(matrix, u);
}

const pct = (v: number | null) => (v === null ? "–" : `${Math.round(v * 100)}%`);

function renderLane(state: DemoState, lane: Lane): void {
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
  $(".avg", root).textContent = pct(seenAverage(lane.rows, u));
  const matrix = knownMatrix(lane.rows, u);
  $(".forget", root).textContent = matrix === null || u < 1 ? "–" : `${Math.round(forgetting(matrix, u) * 100)}`;
  $(".first", root).textContent = pct(lastRow?.[0] ?? null);
  $(".matrix-box", root).innerHTML = accuracyMatrixSvg(lane.rows, TASKS);
  const series = state.tasks.map((_, j) => ({
    name: `task ${j + 1} (${taskLabel(state, j)})`,
    colour: TASK_COLOURS[j]!,
    values: Array.from({ length: TASKS }, (_, i) => (i >= j ? (lane.rows[i]?.[j] ?? null) : null)),
  }));
  $(".lines-box", root).innerHTML = lineChartSvg(series, TASKS, { width: 270, height: 170 });
  $(".legend-box", root).innerHTML = legendHtml(series.map((s, j) => ({ name: `task ${j + 1}`, colour: s.colour })));
  $<HTMLButtonElement>(".export", root).disabled = state.busy || lane.rows.length === 0;
}

function renderCompare(state: DemoState): void {
  const series = state.lanes.map((lane) => ({
    name: lane.spec.title,
    colour: lane.spec.key === "rd" ? "#2a7de1" : "#e0663b",
    width: 3,
    values: Array.from({ length: TASKS }, (_, u) => seenAverage(lane.rows, u)),
  }));
  $("#compare-chart").innerHTML = lineChartSvg(series, TASKS, { width: 360, height: 170 }) + legendHtml(series);
  const done = Math.min(...state.lanes.map((l) => l.rows.length));
  if (done >= 2) {
    const [rd, ft] = series.map((s) => s.values[done - 1] ?? null);
    $("#compare-text").innerHTML =
      `After ${done} updates, RD is right on <b>${pct(rd ?? null)}</b> of the test images of the classes seen so far; fine-tuning on <b>${pct(ft ?? null)}</b>, ` +
      `because it only knows the classes of its last update. The gap is what forgetting costs.`;
  }
}

function renderControls(state: DemoState): void {
  const { busy } = state;
  const done = Math.min(...state.lanes.map((l) => l.rows.length));
  const ready = state.lanes.every((l) => l.client !== undefined);
  $<HTMLButtonElement>("#next").disabled = busy || !ready || done >= TASKS;
  $<HTMLButtonElement>("#all").disabled = busy || !ready || done >= TASKS;
  // Start over stays possible when a worker could not start (an unreadable stored state): it is the way out.
  $<HTMLButtonElement>("#reset").disabled = busy;
  for (const [i] of state.tasks.entries()) {
    const badge = $(`[data-task="${i}"] .badge`);
    const stage = i < done ? "done" : i === done && busy ? "running" : i === done ? "next" : "";
    badge.className = `badge ${stage}`;
    badge.textContent = { done: "learned", running: "learning…", next: "next", "": "" }[stage];
  }
  const status = $("#status");
  if (!ready) {
    if (!busy) status.innerHTML = "<b>Not ready</b>: a worker could not start (the error is above).";
    return;
  }
  if (busy) status.innerHTML = `<b>Running update ${done + 1} of ${TASKS}</b>: both models learn ${taskLabel(state, done)}, each in its worker.`;
  else if (done >= TASKS) status.innerHTML = `<b>All ${TASKS} updates done.</b> Compare the matrices: RD keeps the old tasks, fine-tuning only knows the last one.`;
  else if (state.lanes.some((l) => l.rows.length > done)) {
    const behind = state.lanes.filter((l) => l.rows.length === done).map((l) => l.spec.title).join(" and ");
    status.innerHTML = `<b>Next: ${behind} catches up with update ${done + 1} of ${TASKS}</b>, ${taskLabel(state, done)}: ` +
      "an update was stopped midway (a reload or another tab), and the other model waits so both are compared on the same tasks.";
  } else status.innerHTML = `<b>Next: update ${done + 1} of ${TASKS}</b>, ${taskLabel(state, done)}.${done > 0 ? " Reload the page any time: it resumes here." : ""}`;
}

let frame = 0;
/** Redraws everything on the next animation frame (progress events come faster than frames). */
export function render(state: DemoState): void {
  if (frame !== 0) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    for (const lane of state.lanes) renderLane(state, lane);
    renderCompare(state);
    renderControls(state);
  });
}

/** The error banner (and the console). */
export function showError(error: unknown): void {
  const box = $("#error");
  const e = error instanceof Error ? error : new Error(String(error));
  box.style.display = "block";
  // A state another tab holds or changed: this page's models are stale, and a reload picks up the other tab's work.
  // Any other StateError is a stored state that cannot be read: only starting over helps.
  const otherTab = /locked|already holds a state|another tab|changed since/i.test(e.message);
  const hint = e.name !== "StateError" ? ""
    : otherTab ? "\nIs the demo open in another tab? Let it finish, then reload this page."
    : "\n“Start over” deletes the demo's stored states and begins again.";
  box.textContent = `${e.name}: ${e.message}${hint}`;
  console.error(e);
}
