/**
 * The raw output of a benchmark, as plain numbers: what the reporting module
 * reads. Results may come straight from a benchmark or back from a JSON file,
 * where NaN has become null; the checks here accept that.
 */
import { DataError } from "../errors.js";

/** One benchmark run: one updater x memory size x seed. */
export interface RunResult {
  updater: string;
  /** Replay-memory capacity; null for updaters without a memory. */
  memorySize: number | null;
  seed: number;
  /** The updater's own options the grid gave it (`--updater-options`, a variant's settings); absent when none. */
  updaterOptions?: Record<string, unknown>;
  /**
   * `accuracyMatrix[t][i]`: accuracy on task i after update t. Square: every
   * task's test set is evaluated after every update.
   */
  accuracyMatrix: number[][];
  /** Test-set size of each task (for the micro average). */
  testSizes: number[];
  /** Accuracy on each task before any update; enables forward transfer. */
  initAccuracy?: number[];
  /**
   * Negative flip rate between consecutive models: length T-1 (entry k is
   * between the models after updates k and k+1), or length T whose first
   * entry (NaN, or a rate against the untrained model) is ignored.
   */
  negativeFlipRates: number[];
  /** Wall time of each update, in seconds (length T). */
  updateSeconds: number[];
  /** Optional wall time of named phases of each update (e.g. "expert", "consolidation"). */
  phaseSeconds?: Record<string, number[]>;
  /** Optional labels each task is about (length T; class splits are seeded, so they may differ between seeds). */
  taskClasses?: number[][];
}

/** A whole benchmark: its settings and every run. */
export interface BenchmarkResults {
  dataset: string;
  scenario: string;
  /** Number of tasks T (= updates). */
  tasks: number;
  /** The model spec, reported as given. */
  model: unknown;
  backend: string;
  epochs: number;
  batchSize: number;
  /** The grid's optimizer (name and learning rate), before any updater's own options. */
  optimizer?: unknown;
  /** Optional class names indexed by label (e.g. FASHION_MNIST_CLASSES), to name tasks in charts. */
  classNames?: string[];
  runs: RunResult[];
}

/** A run's name for error messages: `run 2 (updater "joint", memory 500, seed 1)`. */
export function describeRun(run: RunResult, index: number): string {
  const memory = run.memorySize === null ? "no memory" : `memory ${run.memorySize}`;
  return `run ${index} (updater "${run.updater}", ${memory}, seed ${run.seed})`;
}

/**
 * Text made safe for a file name: anything but letters, digits and `. _ - + = @` becomes "_". Those six are valid in
 * file names on Linux, macOS and Windows and need no quoting in a shell, and they are all an updater name
 * (`der++`) or a benchmark variant (`er@lr=0.01`) may hold, so distinct updaters keep distinct file names
 * (mapping `+` and `=` to "_" made `er@a=b` and `er@a+b` collide; tester G, F18).
 */
export function fileSlug(text: string): string {
  return text.replace(/[^A-Za-z0-9._+=@-]/g, "_");
}

/**
 * Rates between consecutive models, one per update: entry t compares the
 * models after updates t-1 and t, so entry 0 is always NaN.
 */
export function flipRatesPerUpdate(run: RunResult, tasks: number): number[] {
  const rates = run.negativeFlipRates.map((rate) => (typeof rate === "number" ? rate : Number.NaN));
  const between = rates.length === tasks ? rates.slice(1) : rates;
  return [Number.NaN, ...between];
}

/**
 * Checks the shape of benchmark results before anything is computed or
 * written, so a malformed run fails with its name rather than deep in a chart.
 */
export function checkBenchmarkResults(results: BenchmarkResults): void {
  const tasks = results.tasks;
  if (!Number.isInteger(tasks) || tasks < 1) {
    throw new DataError(`benchmark results: tasks = ${String(tasks)} is not a positive integer`);
  }
  if (!Array.isArray(results.runs) || results.runs.length === 0) {
    throw new DataError("benchmark results: runs is empty; there is nothing to report");
  }
  const seen = new Set<string>();
  results.runs.forEach((run, index) => {
    const name = describeRun(run, index);
    if (typeof run.updater !== "string" || run.updater.length === 0) {
      throw new DataError(`benchmark results: run ${index} has no updater name`);
    }
    if (run.memorySize !== null && !(Number.isInteger(run.memorySize) && run.memorySize >= 0)) {
      throw new DataError(`${name}: memorySize = ${String(run.memorySize)} is neither null nor a non-negative integer`);
    }
    const key = JSON.stringify([run.updater, run.memorySize, run.seed]);
    if (seen.has(key)) throw new DataError(`${name}: the same updater, memory size and seed appear twice`);
    seen.add(key);
    const matrix = run.accuracyMatrix;
    if (!Array.isArray(matrix) || matrix.length !== tasks) {
      throw new DataError(`${name}: accuracyMatrix has ${matrix?.length ?? 0} rows; the benchmark has ${tasks} tasks`);
    }
    matrix.forEach((row, t) => {
      if (!Array.isArray(row) || row.length !== tasks) {
        throw new DataError(`${name}: accuracyMatrix row ${t} has ${row?.length ?? 0} entries; it must be square (${tasks})`);
      }
    });
    checkLength(run.updateSeconds, [tasks], `${name}: updateSeconds`);
    checkLength(run.negativeFlipRates, [tasks - 1, tasks], `${name}: negativeFlipRates`);
    checkLength(run.testSizes, [tasks], `${name}: testSizes`);
    if (run.initAccuracy !== undefined) checkLength(run.initAccuracy, [tasks], `${name}: initAccuracy`);
    if (run.taskClasses !== undefined) {
      checkLength(run.taskClasses, [tasks], `${name}: taskClasses`);
      run.taskClasses.forEach((classes, i) => {
        if (!Array.isArray(classes) || !classes.every((c) => Number.isInteger(c) && c >= 0)) {
          throw new DataError(`${name}: taskClasses[${i}] is not a list of labels (integers >= 0)`);
        }
      });
    }
  });
}

function checkLength(values: unknown, allowed: readonly number[], what: string): void {
  const length = Array.isArray(values) ? values.length : -1;
  if (!allowed.includes(length)) {
    const found = length < 0 ? "is not an array" : `has ${length} entries`;
    throw new DataError(`${what} ${found}; expected ${allowed.join(" or ")}`);
  }
}
