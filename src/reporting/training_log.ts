/**
 * Training logs of a state folder, one entry per epoch and phase, appended
 * update after update so the folder holds the whole history:
 *
 *   metrics.jsonl   {"update","phase","epoch",...logs,"learningRate","step","time"} per line
 *   metrics.csv     the fixed columns CSV_COLUMNS; metrics other than the four usual
 *                   ones go, as a JSON object, into the last column, so a metric that
 *                   appears in a later update never changes the header
 *   tensorboard/    event files with scalars "<phase>/<metric>" and "<phase>/learning_rate"
 *
 * `step` is a global epoch counter that keeps growing across updates: it starts
 * at the number of entries already in metrics.jsonl (or metrics.csv), so TensorBoard
 * curves of successive updates follow one another instead of overlapping.
 */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { DataError, OptionsError } from "../errors.js";
import type { TrainingCallback, TrainingEvent } from "../training/callbacks.js";
import { TensorBoardWriter } from "./tensorboard.js";
import { CSV_COLUMNS, csvRow, jsonlLine, METRICS_CSV, METRICS_JSONL, TENSORBOARD_FOLDER } from "./log_lines.js";

export { CSV_COLUMNS, METRICS_CSV, METRICS_JSONL, TENSORBOARD_FOLDER, type TrainingLogLine } from "./log_lines.js";

/** File and folder names inside the log folder. */

/** Options of {@link trainingLogCallbacks}. */
export interface TrainingLogOptions {
  /** Number of the update being trained, from 1 (the first update is update 1), as summaries print it. */
  update: number;
  /** Write TensorBoard event files. Default true. */
  tensorboard?: boolean;
  /** Write metrics.csv. Default true. */
  csv?: boolean;
  /** Write metrics.jsonl. Default true. */
  jsonl?: boolean;
  /** Global step of the first epoch logged; default: the number of entries already logged. */
  startStep?: number;
  /** Milliseconds since the Unix epoch; default `Date.now`. */
  wallClock?: () => number;
  /** Host name in the event file name; default `os.hostname()`. */
  hostname?: string;
  /**
   * Record wall-clock times (default true). False makes the files a pure
   * function of the logged values (time null, TensorBoard wall time 0, event
   * file named for time 0): what state folders need to be byte-identical
   * across identical runs.
   */
  timestamps?: boolean;
}

/** What {@link trainingLogCallbacks} returns. */
export interface TrainingLog {
  /** Pass these to the training loop. */
  readonly callbacks: TrainingCallback[];
  /** Paths written, for the enabled outputs. */
  readonly files: { jsonl?: string; csv?: string; tensorboard?: string };
  /** The global step the next epoch will be logged at. */
  readonly nextStep: number;
  /** Flushes and closes the TensorBoard file. */
  close(): Promise<void>;
}

/**
 * Creates `dir` if needed and returns callbacks that log every epoch end of every
 * phase to metrics.jsonl, metrics.csv and TensorBoard, appending to existing files.
 * An existing metrics.csv with a different header is refused (DataError), not mixed.
 */
export async function trainingLogCallbacks(dir: string, options: TrainingLogOptions): Promise<TrainingLog> {
  const updateNumber = options.update;
  if (!Number.isSafeInteger(updateNumber) || updateNumber < 1) {
    throw new OptionsError(`trainingLogCallbacks: update is numbered from 1 (the first update is update 1), got ${String(updateNumber)}`);
  }
  if (options.startStep !== undefined && (!Number.isSafeInteger(options.startStep) || options.startStep < 0)) {
    throw new OptionsError(`trainingLogCallbacks: startStep must be a non-negative integer, got ${String(options.startStep)}`);
  }
  const wallClock = options.timestamps === false ? () => 0 : (options.wallClock ?? Date.now);
  const jsonlPath = join(dir, METRICS_JSONL);
  const csvPath = join(dir, METRICS_CSV);
  await mkdir(dir, { recursive: true });

  const jsonlText = await readIfExists(jsonlPath);
  const csvText = await readIfExists(csvPath);
  let step = options.startStep ?? Math.max(countLines(jsonlText), Math.max(0, countLines(csvText) - 1));

  const header = CSV_COLUMNS.join(",");
  let csvPrefix = "";
  if (options.csv !== false) {
    const existingHeader = csvText?.split("\n", 1)[0]?.replace(/\r$/, "") ?? "";
    if (existingHeader === "") csvPrefix = (csvText && !csvText.endsWith("\n") ? "\n" : "") + header + "\n";
    else if (existingHeader !== header) {
      throw new DataError(`${csvPath}: header "${existingHeader}" differs from "${header}"; move the file away to start a new log`);
    } else csvPrefix = missingNewline(csvText);
  }
  let jsonlPrefix = missingNewline(jsonlText);

  // One clock reading per epoch, shared by every output, so their times agree.
  let now = wallClock();
  const tensorboard = options.tensorboard === false
    ? undefined
    : await TensorBoardWriter.create(join(dir, TENSORBOARD_FOLDER), {
      wallClock: () => now,
      ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    });

  const onEpochEnd = async (event: TrainingEvent): Promise<void> => {
    now = wallClock();
    const time = options.timestamps === false ? null : new Date(now).toISOString();
    const line = jsonlLine(event, updateNumber, step, time);
    if (options.jsonl !== false) {
      await appendFile(jsonlPath, jsonlPrefix + JSON.stringify(line) + "\n");
      jsonlPrefix = "";
    }
    if (options.csv !== false) {
      await appendFile(csvPath, csvPrefix + csvRow(event, updateNumber, step, time) + "\n");
      csvPrefix = "";
    }
    if (tensorboard) {
      for (const [metric, value] of Object.entries(event.logs)) tensorboard.scalar(`${event.phase}/${metric}`, value, step);
      tensorboard.scalar(`${event.phase}/learning_rate`, event.learningRate, step);
      await tensorboard.flush();
    }
    step++;
  };

  return {
    callbacks: [{ onEpochEnd }],
    files: {
      ...(options.jsonl !== false ? { jsonl: jsonlPath } : {}),
      ...(options.csv !== false ? { csv: csvPath } : {}),
      ...(tensorboard ? { tensorboard: tensorboard.path } : {}),
    },
    get nextStep() {
      return step;
    },
    close: async () => {
      await tensorboard?.close();
    },
  };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Non-empty lines; a last line cut short by a crash still counts as an entry. */
function countLines(text: string | undefined): number {
  if (text === undefined) return 0;
  return text.split("\n").filter((line) => line.trim() !== "").length;
}

/** A newline to write first when an existing file does not end with one, so a new entry never joins a cut line. */
function missingNewline(text: string | undefined): string {
  return text !== undefined && text.length > 0 && !text.endsWith("\n") ? "\n" : "";
}
