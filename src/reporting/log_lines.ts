/**
 * The lines of a training log, shared by every host: metrics.jsonl entries
 * and metrics.csv rows (training_log.ts appends them to files in Node;
 * state_logs.ts builds a state's logs from them in memory).
 */
import type { TrainingEvent } from "../training/callbacks.js";

/** File and folder names inside the log folder. */
export const METRICS_JSONL = "metrics.jsonl";
export const METRICS_CSV = "metrics.csv";
export const TENSORBOARD_FOLDER = "tensorboard";

const USUAL_METRICS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"] as const;

/** Header of metrics.csv, in order. */
export const CSV_COLUMNS = ["update", "phase", "epoch", "step", "learning_rate", "time", ...USUAL_METRICS, "other_metrics"] as const;

/** One line of metrics.jsonl. Non-finite metric values are written as null (JSON has no NaN). */
export interface TrainingLogLine {
  update: number;
  phase: string;
  epoch: number;
  learningRate: number;
  step: number;
  /** ISO 8601. */
  time: string | null;
  [metric: string]: number | string | null;
}


/** One metrics.jsonl entry (the caller adds the newline). */
export function jsonlLine(event: TrainingEvent, update: number, step: number, time: string | null): TrainingLogLine {
  const metrics: Record<string, number | null> = {};
  for (const [name, value] of Object.entries(event.logs)) metrics[name] = Number.isFinite(value) ? value : null;
  const line: TrainingLogLine = { update, phase: event.phase, epoch: event.epoch, ...metrics, learningRate: event.learningRate, step, time };
  // Assigned again so a metric named like a fixed field cannot overwrite it (key order stays).
  Object.assign(line, { update, phase: event.phase, epoch: event.epoch });
  return line;
}

/** One metrics.csv row, fields quoted as needed (the caller adds the newline). */
export function csvRow(event: TrainingEvent, update: number, step: number, time: string | null): string {
  const usual = USUAL_METRICS.map((name) => {
    const value = event.logs[name];
    return value === undefined ? "" : String(value);
  });
  const others = Object.keys(event.logs)
    .filter((name) => !(USUAL_METRICS as readonly string[]).includes(name))
    .sort();
  // JSON has no NaN/Infinity: non-finite values go in as strings so they are not lost.
  const otherMetrics = others.length === 0
    ? ""
    : JSON.stringify(Object.fromEntries(others.map((name) => {
      const value = event.logs[name]!;
      return [name, Number.isFinite(value) ? value : String(value)];
    })));
  return [String(update), event.phase, String(event.epoch), String(step), String(event.learningRate), time ?? "", ...usual, otherMetrics]
    .map(csvField)
    .join(",");
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
