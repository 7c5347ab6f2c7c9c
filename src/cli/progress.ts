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
