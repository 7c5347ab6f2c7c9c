/**
 * The logs a state folder carries (logs/metrics.jsonl, logs/metrics.csv,
 * logs/tensorboard/): every epoch of every phase of every update so far.
 * A state is written whole each time, so the logs are rebuilt from the epoch
 * records, without timestamps: identical runs give byte-identical states.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { StateError } from "../errors.js";
import type { TrainingEvent } from "../training/callbacks.js";
import { METRICS_JSONL, trainingLogCallbacks } from "./training_log.js";

/** One epoch of one phase of one update. */
/** Where a state keeps its training logs (metrics.jsonl, metrics.csv, tensorboard/), relative to the state folder. */
export const LOGS_FOLDER = "logs";

export interface EpochRecord {
  /** Number of the update, from 1 (the first update is update 1). */
  update: number;
  /** Epoch index within the phase, from 0 (as tfjs callbacks count epochs). */
  phase: string;
  epoch: number;
  learningRate: number;
  logs: Record<string, number>;
}

const META_KEYS = new Set(["update", "phase", "epoch", "learningRate", "step", "time"]);

/** Writes the logs of `records` into `dir` (a fresh folder). */
export async function writeStateLogs(dir: string, records: readonly EpochRecord[]): Promise<void> {
  const updates = [...new Set(records.map((r) => r.update))].sort((a, b) => a - b);
  for (const update of updates) {
    const log = await trainingLogCallbacks(dir, { update, timestamps: false, hostname: "relearn" });
    try {
      for (const r of records.filter((x) => x.update === update)) {
        const event: TrainingEvent = {
          phase: r.phase, taskId: "", epoch: r.epoch, epochs: 0, step: 0, stepsPerEpoch: 0,
          learningRate: r.learningRate, logs: r.logs, control: { stopTraining: false },
        };
        for (const callback of log.callbacks) await callback.onEpochEnd?.(event);
      }
    } finally {
      await log.close();
    }
  }
}

/** The epoch records of a state's logs (none when it has no logs). */
export async function readStateLogs(dir: string): Promise<EpochRecord[]> {
  const path = join(dir, METRICS_JSONL);
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
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
