/**
 * A benchmark grid run on the queue (`relearn benchmark --queue`): every cell becomes a "benchmark-cell" job, the
 * children of one BullMQ flow whose parent stands for the grid; workers run the cells; this side waits, then
 * gathers the children's values (`getChildrenValues`) into the same BenchmarkResults a local run returns.
 *
 * Why a flow: the parent's dependencies ARE the grid's bookkeeping (BullMQ counts processed, pending and failed
 * children atomically, however many workers finish at once), and the children's values are keyed by job, so a
 * cell retried after a worker died is still one value. The parent lives in a queue of its own that no worker
 * serves: it only collects.
 *
 * Ids: a cell's job id is a hash of its settings (see benchmarkCellId) and the grid's is a hash of its cells'.
 * Rerunning a grid therefore finds the cells that finished before (kept in Redis for a week) and runs only the
 * others; cells that failed are removed first so they run again.
 */
import { createHash } from "node:crypto";
import { FlowProducer, Queue, QueueEvents, type ConnectionOptions, type Job } from "bullmq";
import { benchmarkResults, planRuns, type BenchmarkConfig, type CellResult, type RunPlan } from "../benchmark/run_benchmark.js";
import type { BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import type { BenchmarkResults } from "../reporting/results.js";
import { dataFingerprint } from "./data_fingerprint.js";
import { benchmarkCellData, benchmarkCellId, decodeCellResult, describeCell, type BenchmarkCellData } from "./benchmark_cell.js";
import { QueueError } from "./errors.js";
import { JOB_NAMES, QUEUE_NAME } from "./names.js";
import { noWorkerNote, workersServing } from "./workers_connected.js";

/** The queue of grid parents. No worker takes jobs from it: a parent only waits for its children. */
export const GRID_QUEUE_NAME = "relearn-grids";

/** How long finished cells stay in Redis for reuse by a rerun, in seconds (a week). */
const KEEP_FINISHED_SECONDS = 7 * 24 * 3600;

/** Where a queued grid stands. */
export interface GridProgress {
  /** Distinct cells (a grid listing a seed twice runs that cell once). */
  total: number;
  done: number;
  /** Cells a worker is running now (as far as this side has seen: from BullMQ's events). */
  running: number;
  /** Cells that failed after all their attempts. */
  failed: number;
}

export interface QueuedBenchmarkOptions {
  /** Redis connection (ioredis options; `maxRetriesPerRequest: null`, as BullMQ asks). */
  connection: ConnectionOptions;
  /** Tries per cell before it counts as failed (default 3): a crashed or killed worker's cell runs again. */
  attempts?: number;
  /** Called when the counts change, and once at the start. */
  onProgress?: (progress: GridProgress) => void;
  /** A remark for the user (e.g. that no worker is connected yet). */
  onNote?: (note: string) => void;
  /** The Redis URL as shown to the user (password masked), for the notes; "..." when not given. */
  display?: string;
  /** How often the grid's counts are read, in ms (default 500). */
  pollMs?: number;
}

interface PlannedCell {
  plan: RunPlan;
  data: BenchmarkCellData;
  id: string;
}

/**
 * Runs `spec`'s grid on the queue's workers and returns its results, runs in plan order as `runBenchmark` gives
 * them. `config` is the local view of the same spec (its data set's name and class names label the results).
 * Throws a QueueError listing the failed cells when any cell failed after all attempts (nothing is returned then).
 * A cell that another unfinished grid holds (an interrupted run of an overlapping grid) is waited for and read by
 * its own job id.
 */
export async function runQueuedBenchmark(spec: BenchmarkSpec, config: BenchmarkConfig, options: QueuedBenchmarkOptions): Promise<BenchmarkResults> {
  const plans = planRuns(spec);
  const fingerprint = await dataFingerprint(spec.data);
  const cells: PlannedCell[] = plans.map((plan) => {
    const data = benchmarkCellData(spec, plan);
    return { plan, data, id: benchmarkCellId(data, fingerprint) };
  });
  const unique = [...new Map(cells.map((cell) => [cell.id, cell])).values()];
  const gridId = `grid-${createHash("sha256").update(unique.map((c) => c.id).sort().join(",")).digest("hex").slice(0, 32)}`;

  const connection = options.connection;
  const cellQueue = new Queue(QUEUE_NAME, { connection });
  const gridQueue = new Queue(GRID_QUEUE_NAME, { connection });
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  try {
    await events.waitUntilReady();
    const running = trackRunning(events, new Set(unique.map((c) => c.id)));
    for (const id of await clearLeftovers(gridQueue, cellQueue, gridId, unique)) running.add(id);
    if ((await workersServing(cellQueue, (connection as { db?: number }).db ?? 0)) === 0) {
      options.onNote?.(noWorkerNote("the cells wait", options.display ?? "..."));
    }
    const node = await flows
      .add({
        name: "benchmark-grid",
        queueName: GRID_QUEUE_NAME,
        data: { cells: unique.length },
        opts: { jobId: gridId },
        children: unique.map((cell) => ({
          name: JOB_NAMES.benchmarkCell,
          queueName: QUEUE_NAME,
          data: cell.data,
          opts: {
            jobId: cell.id,
            attempts: options.attempts ?? 3,
            backoff: { type: "fixed", delay: 1000 },
            // A failed cell must not stop the others: the parent waits for all, and the failures are read at the end.
            ignoreDependencyOnFailure: true,
            removeOnComplete: { age: KEEP_FINISHED_SECONDS },
            removeOnFail: false,
          },
        })),
      })
      .catch((error: Error) => {
        throw new QueueError(`cannot enqueue the grid ${gridId} at Redis: ${error.message}`);
      });
    const parent = node.job;
    const prefix = cellQueue.opts.prefix ?? "bull";
    const keyOf = (cell: PlannedCell) => `${prefix}:${QUEUE_NAME}:${cell.id}`;
    // BullMQ gives a job one parent: a cell that another unfinished grid holds (an interrupted run of an overlapping
    // grid) stays that grid's child. Such cells are waited for and read here by their own job ids.
    const foreign: PlannedCell[] = [];
    for (const cell of unique) {
      const job = await cellQueue.getJob(cell.id);
      if (job !== undefined && job.parentKey !== `${prefix}:${GRID_QUEUE_NAME}:${gridId}`) foreign.push(cell);
    }
    const outcomes = async () => {
      const out = new Map<string, { value: unknown } | { error: string }>();
      for (const cell of foreign) {
        const job = await cellQueue.getJob(cell.id);
        const state = job === undefined ? "missing" : await job.getState();
        if (state === "completed") out.set(cell.id, { value: job!.returnvalue });
        else if (state === "failed" || state === "missing") out.set(cell.id, { error: job?.failedReason ?? "its job was removed from Redis" });
      }
      return out;
    };
    await waitForChildren(parent, unique.length, running, outcomes, foreign.length, options);

    const values = await parent.getChildrenValues();
    const failures = await parent.getIgnoredChildrenFailures();
    const fromForeign = await outcomes();
    const byId = new Map<string, CellResult>();
    const failed: string[] = [];
    for (const cell of unique) {
      const outcome = fromForeign.get(cell.id);
      let error: string | undefined;
      if (outcome !== undefined && "value" in outcome) byId.set(cell.id, decodeCellResult(outcome.value));
      else if (outcome !== undefined) error = outcome.error;
      else if (keyOf(cell) in values) byId.set(cell.id, decodeCellResult(values[keyOf(cell)]));
      else error = failures[keyOf(cell)] ?? "no result";
      if (error !== undefined) failed.push(`  ${describeCell(cell.plan)} (job ${cell.id}): ${error.replaceAll("\n", "\n    ")}`);
    }
    // The parent has done its work; without it the finished cells are free to join the next grid that asks for them.
    await parent.remove({ removeChildren: false });
    if (failed.length > 0) {
      throw new QueueError(
        `${failed.length} of ${unique.length} benchmark cells failed after all attempts; no results were written:\n${failed.join("\n")}\n` +
          "Once the cause is fixed, rerun the same command: it runs only these cells again (the finished ones are kept).",
      );
    }
    return benchmarkResults(config, cells.map((cell) => byId.get(cell.id)!));
  } finally {
    await Promise.allSettled([events.close(), flows.close(), gridQueue.close(), cellQueue.close()]);
  }
}

/**
 * Before (re)adding a grid: an old parent of the same id goes (its finished children stay and re-attach to the new
 * one with their values), and cells that failed before go so they run again. Cells still waiting or running stay:
 * a rerun after an interrupted one picks them up where they are. Returns the ids of the cells running now.
 */
async function clearLeftovers(gridQueue: Queue, cellQueue: Queue, gridId: string, cells: readonly PlannedCell[]): Promise<string[]> {
  const old = await gridQueue.getJob(gridId);
  if (old !== undefined) await old.remove({ removeChildren: false });
  const active: string[] = [];
  for (const cell of cells) {
    const job = await cellQueue.getJob(cell.id);
    if (job === undefined) continue;
    const state = await job.getState();
    if (state === "failed") await job.remove({ removeChildren: false });
    if (state === "active") active.push(cell.id);
  }
  return active;
}

/** The ids of `ours` a worker is running now, kept up to date from the queue's events. */
function trackRunning(events: QueueEvents, ours: ReadonlySet<string>): Set<string> {
  const running = new Set<string>();
  events.on("active", ({ jobId }) => {
    if (ours.has(jobId)) running.add(jobId);
  });
  // "failed" also follows an attempt that will be retried: the cell is waiting again until its next "active".
  for (const event of ["completed", "failed", "stalled"] as const) {
    events.on(event, ({ jobId }: { jobId: string }) => running.delete(jobId));
  }
  return running;
}

async function waitForChildren(
  parent: Job,
  total: number,
  running: Set<string>,
  foreignOutcomes: () => Promise<Map<string, { value: unknown } | { error: string }>>,
  foreignCount: number,
  options: QueuedBenchmarkOptions,
): Promise<void> {
  let last = "";
  for (;;) {
    // A Redis restarted without persistence (or flushed) forgets the grid: say so, rather than report every cell failed.
    if ((await parent.getState()) === "unknown") {
      throw new QueueError(
        `the grid's job ${String(parent.id)} is gone from Redis: another \`relearn benchmark --queue\` of the same grid took it over ` +
          "(it collects the results), or Redis restarted without persistence or was flushed. " +
          "Rerun the same command: cells Redis still has results for are reused, the others run again.",
      );
    }
    const counts = await parent.getDependenciesCount();
    const foreign = foreignCount === 0 ? new Map() : await foreignOutcomes();
    const foreignFailed = [...foreign.values()].filter((o) => "error" in o).length;
    const progress: GridProgress = {
      total,
      done: (counts.processed ?? 0) + foreign.size - foreignFailed,
      running: running.size,
      failed: (counts.ignored ?? 0) + (counts.failed ?? 0) + foreignFailed,
    };
    const key = JSON.stringify(progress);
    if (key !== last) options.onProgress?.(progress);
    last = key;
    if ((counts.unprocessed ?? 0) === 0 && foreign.size === foreignCount) return;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
  }
}
