/**
 * Progress for long training runs, on stderr: a bar per training phase on a
 * terminal, one plain line per epoch otherwise (CI logs, pipes).
 */
import cliProgress from "cli-progress";
import type { TrainingCallback, TrainingEvent } from "../training/callbacks.js";

function formatLogs(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([k, v]) => `${k}=${v.toFixed(4)}`)
    .join(" ");
}

/** Callbacks that report the progress of one update, labelled with `label`. */
export function progressCallbacks(label: string, stream: NodeJS.WriteStream = process.stderr): TrainingCallback[] {
  if (!stream.isTTY) {
    return [
      {
        onEpochEnd: (e: TrainingEvent) => {
          stream.write(`${label} ${e.phase} epoch ${e.epoch + 1}/${e.epochs} ${formatLogs(e.logs)}\n`);
        },
      },
    ];
  }
  let bar: cliProgress.SingleBar | undefined;
  return [
    {
      onTrainBegin: (e) => {
        bar = new cliProgress.SingleBar(
          { format: `${label} ${e.phase.padEnd(13)} [{bar}] {percentage}% | epoch {epoch}/${e.epochs} | {logs}`, stream, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.epochs * e.stepsPerEpoch, 0, { epoch: 1, logs: "" });
      },
      onBatchEnd: (e) => bar?.update(e.epoch * e.stepsPerEpoch + e.step + 1, { epoch: e.epoch + 1 }),
      onEpochEnd: (e) => bar?.update((e.epoch + 1) * e.stepsPerEpoch, { logs: formatLogs(e.logs) }),
      onTrainEnd: () => {
        bar?.stop();
        bar = undefined;
      },
    },
  ];
}

/** Counts of a grid of cells run elsewhere (`relearn benchmark --queue`). */
export interface CellCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
}

/**
 * Progress of a queued grid on stderr: one bar with the done/running/failed counts on a terminal, a plain line per
 * change otherwise. Returns the update function and `stop` (ends the bar's line).
 */
export function cellProgress(label: string, stream: NodeJS.WriteStream = process.stderr): { update: (counts: CellCounts) => void; stop: () => void } {
  const text = (c: CellCounts) => `${c.done}/${c.total} cells done, ${c.running} running, ${c.failed} failed`;
  if (!stream.isTTY) {
    return { update: (c) => void stream.write(`${label} ${text(c)}\n`), stop: () => {} };
  }
  let bar: cliProgress.SingleBar | undefined;
  return {
    update: (c) => {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {counts}`, stream, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
        bar.start(c.total, c.done, { counts: text(c) });
      }
      bar.update(c.done, { counts: text(c) });
    },
    stop: () => bar?.stop(),
  };
}
