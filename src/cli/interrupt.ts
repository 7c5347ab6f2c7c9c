/**
 * Ctrl-C (SIGINT) or SIGTERM during a command that writes state: wait for a
 * commit under way (two renames, milliseconds) rather than exit between them,
 * remove this process's unfinished temporary folders and locks, say what
 * happened on stderr, and exit with the conventional code (128 + signal
 * number: 130 for SIGINT, 143 for SIGTERM).
 *
 * A signal handler runs only when the event loop gets control, and a
 * training loop on the wasm or cpu backend may not give it any for a whole
 * update: `yieldForSignals` is a training callback that does, every 50 ms.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { commitCount, commitSettled, undoInFlightSync } from "../state/in_flight.js";
import type { TrainingCallback } from "../training/callbacks.js";

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Installs the handlers for the duration of `run`. `output` is the state
 * folder the command writes, for the message. `written` says whether the
 * output was written when a signal came; default: whether any state was
 * committed meanwhile (a tuning run commits trial states elsewhere first, so it says).
 */
export async function exitCleanlyOnSignals<T>(output: string, run: () => Promise<T>, options: { written?: () => boolean } = {}): Promise<T> {
  let stopping = false;
  const committedBefore = commitCount();
  const handler = (signal: keyof typeof EXIT_CODES) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await commitSettled();
      undoInFlightSync();
      const written = options.written ? options.written() : commitCount() > committedBefore;
      process.stderr.write(
        written
          ? `\nrelearn: interrupted (${signal}) after the new state was written to ${output}\n`
          : `\nrelearn: interrupted (${signal}), nothing written: ${output} is unchanged\n`,
      );
      process.exit(EXIT_CODES[signal]);
    })();
  };
  return withSignalHandler(handler, run);
}

/** How often training lets the event loop run (and so a signal handler): rarely enough to cost nothing. */
const YIELD_EVERY_MS = 50;

/** A training callback that hands the event loop a turn every YIELD_EVERY_MS ms of training. */
export function yieldForSignals(): TrainingCallback {
  let last = performance.now();
  return {
    onBatchEnd: async () => {
      if (performance.now() - last < YIELD_EVERY_MS) return;
      await nextTurn();
      last = performance.now();
    },
  };
}

/**
 * Ctrl-C (SIGINT) or SIGTERM while this process only waits for work done elsewhere (a queued update with --wait, a
 * queued benchmark): the work goes on, so the exit must not look like an interrupted update. `say(signal)` is the
 * line printed on stderr (what keeps running, and how to get its result); then exit 130 or 143.
 */
export async function stopWaitingOnSignals<T>(say: (signal: keyof typeof EXIT_CODES) => string | Promise<string>, run: () => Promise<T>): Promise<T> {
  // `say` may first do something (tune --queue removes its trials not started): a second signal meanwhile waits for it.
  let stopping = false;
  const handler = (signal: keyof typeof EXIT_CODES) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      const line = await Promise.resolve()
        .then(() => say(signal))
        .catch((error: unknown) => `relearn: interrupted (${signal}); ${error instanceof Error ? error.message : String(error)}`);
      process.stderr.write(`\n${line}\n`);
      process.exit(EXIT_CODES[signal]);
    })();
  };
  return withSignalHandler(handler, run);
}

/** Runs `run` with `handler` on SIGINT and SIGTERM, removed again when it settles. */
async function withSignalHandler<T>(handler: (signal: keyof typeof EXIT_CODES) => void, run: () => Promise<T>): Promise<T> {
  const onInt = () => handler("SIGINT");
  const onTerm = () => handler("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await run();
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}
