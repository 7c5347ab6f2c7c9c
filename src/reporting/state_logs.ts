/**
 * The logs a state carries (logs/metrics.jsonl, logs/metrics.csv,
 * logs/tensorboard/): every epoch of every phase of every update so far.
 * A state is written whole each time, so the logs are rebuilt from the epoch
 * records, in memory and without timestamps: identical runs give
 * byte-identical states, in Node and in a browser alike. The files are those
 * training_log.ts appends in Node (one TensorBoard event file per update,
 * named for time 0 and host "relearn", `.1`, `.2`... after the first).
 */
import { concatArrays } from "../concat_arrays.js";
import { StateError } from "../errors.js";
import type { StateReader, StateWriter } from "../state/store.js";
import type { TrainingEvent } from "../training/callbacks.js";
import { CSV_COLUMNS, csvRow, jsonlLine, METRICS_CSV, METRICS_JSONL, TENSORBOARD_FOLDER } from "./log_lines.js";
import { fileVersionRecord, scalarRecord } from "./tensorboard_records.js";

/** Where a state keeps its training logs (metrics.jsonl, metrics.csv, tensorboard/), relative to the state folder. */
export const LOGS_FOLDER = "logs";

/** One epoch of one phase of one update. */
export interface EpochRecord {
  /** Number of the update, from 1 (the first update is update 1). */
  update: number;
  phase: string;
  /** Epoch index within the phase, from 0 (as tfjs callbacks count epochs). */
  epoch: number;
  learningRate: number;
  logs: Record<string, number>;
}

const META_KEYS = new Set(["update", "phase", "epoch", "learningRate", "step", "time"]);
const EVENT_FILE = "events.out.tfevents.0.relearn";

/** Writes the logs of `records` into `logs/` of the state being written (nothing when there are none). */
export async function writeStateLogs(files: StateWriter, records: readonly EpochRecord[]): Promise<void> {
  if (records.length === 0) return;
  const updates = [...new Set(records.map((r) => r.update))].sort((a, b) => a - b);
  const jsonl: string[] = [];
  const csv: string[] = [CSV_COLUMNS.join(",")];
  let step = 0;
  for (const [i, update] of updates.entries()) {
    const events: Uint8Array[] = [fileVersionRecord(0)];
    for (const r of records.filter((x) => x.update === update)) {
      const event: TrainingEvent = {
        phase: r.phase, taskId: "", epoch: r.epoch, epochs: 0, step: 0, stepsPerEpoch: 0,
        learningRate: r.learningRate, logs: r.logs, control: { stopTraining: false },
      };
      jsonl.push(JSON.stringify(jsonlLine(event, update, step, null)));
      csv.push(csvRow(event, update, step, null));
      for (const [metric, value] of Object.entries(r.logs)) events.push(scalarRecord(0, step, `${r.phase}/${metric}`, value));
      events.push(scalarRecord(0, step, `${r.phase}/learning_rate`, r.learningRate));
      step++;
    }
    await files.writeFile(`${LOGS_FOLDER}/${TENSORBOARD_FOLDER}/${EVENT_FILE}${i === 0 ? "" : `.${i}`}`, concatArrays(events, new Uint8Array(0)));
  }
  await files.writeFile(`${LOGS_FOLDER}/${METRICS_JSONL}`, jsonl.map((line) => `${line}\n`).join(""));
  await files.writeFile(`${LOGS_FOLDER}/${METRICS_CSV}`, csv.map((line) => `${line}\n`).join(""));
}

/** The epoch records of a state's logs (none when it has no logs). */
export async function readStateLogs(files: StateReader): Promise<EpochRecord[]> {
  const file = `${LOGS_FOLDER}/${METRICS_JSONL}`;
  if (!files.has(file)) return [];
  const path = `${files.location}/${file}`;
  const text = new TextDecoder().decode(await files.readFile(file));
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, i) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new StateError(`${path}: line ${i + 1} is not JSON`);
      }
      const logs: Record<string, number> = {};
      for (const [key, value] of Object.entries(parsed)) if (!META_KEYS.has(key)) logs[key] = value === null ? Number.NaN : Number(value);
      return {
        update: Number(parsed["update"]),
        phase: String(parsed["phase"]),
        epoch: Number(parsed["epoch"]),
        learningRate: parsed["learningRate"] === null ? Number.NaN : Number(parsed["learningRate"]),
        logs,
      };
    });
}
