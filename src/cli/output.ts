/** Output helpers shared by the commands: results on stdout, everything else on stderr. */
import type { Logger } from "../logger.js";
import { DEFAULT_TASK_ID } from "../task_id.js";

/** Warnings on stderr, info dropped (progress has its own display). */
export const stderrLogger: Logger = { info: () => {}, warn: (m) => process.stderr.write(`warning: ${m}\n`) };

/** Prints `value` as JSON (NaN -> null) on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
}

/** A compact one-line histogram: "0:120 1:98 ...", or with class names "cat:120 dog:98 ..." (an index where a class has no name). */
export function formatHistogram(histogram: readonly number[], classNames?: readonly string[]): string {
  return histogram.map((n, c) => `${classNames?.[c] ?? c}:${n}`).join(" ");
}

export function fixed(value: number | undefined, digits = 4): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

/** The line `update` and `inspect` print for an iCaRL state's exemplars. */
export function formatExemplars(exemplars: { length: number; memorySize: number; classHistogram: readonly number[] }, classNames?: readonly string[]): string {
  return `exemplars: ${exemplars.length}/${exemplars.memorySize} items (herding), classes ${formatHistogram(exemplars.classHistogram, classNames)}; predicts by nearest class mean`;
}

/**
 * One validation set a state keeps, as `update` and `inspect` list it: "[1] data/val1.csv, 60 items, from update 1",
 * with the task when it is not the default one. `origin` says which update added it ("this update", "update 2").
 */
export function formatValidationSet(index: number, set: { source: string | null; items: number; taskId: string }, origin: string): string {
  return `  [${index + 1}] ${set.source ?? "(unnamed)"}, ${set.items} items, from ${origin}${set.taskId === DEFAULT_TASK_ID ? "" : `, task ${set.taskId}`}`;
}
