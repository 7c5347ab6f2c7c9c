/**
 * The ask/tell loop: keeps up to `concurrency` runs going, asks the scheduler for the next whenever one finishes,
 * tells it each score. Knows nothing of training: `run` may be any async function (a trial, a synthetic objective
 * in tests, a queue job).
 */
import type { Scheduler, TrialRequest } from "./scheduler.js";

/** Runs the search to the end; returns every run's result in the order they finished. */
export async function runSearch<R>(
  scheduler: Scheduler,
  run: (request: TrialRequest) => Promise<R>,
  options: { concurrency: number; score: (result: R) => number; onResult?: (request: TrialRequest, result: R) => void },
): Promise<Array<{ request: TrialRequest; result: R }>> {
  const finished: Array<{ request: TrialRequest; result: R }> = [];
  const inFlight = new Map<number, Promise<{ key: number; request: TrialRequest; result: R }>>();
  let key = 0;
  for (;;) {
    while (inFlight.size < options.concurrency) {
      const next = scheduler.ask();
      if (next.kind !== "run") break;
      const k = key++;
      const request = next.request;
      inFlight.set(k, run(request).then((result) => ({ key: k, request, result })));
    }
    if (inFlight.size === 0) {
      // Nothing running: the scheduler can only be done (waiting on nothing would never end).
      const next = scheduler.ask();
      if (next.kind === "done") return finished;
      throw new Error(`scheduler ${scheduler.name} asked to ${next.kind} with nothing running`);
    }
    let done: { key: number; request: TrialRequest; result: R };
    try {
      done = await Promise.race(inFlight.values());
    } catch (error) {
      // Let the other runs end before the error leaves (none is left writing behind our back).
      await Promise.allSettled(inFlight.values());
      throw error;
    }
    inFlight.delete(done.key);
    scheduler.tell(done.request, options.score(done.result));
    finished.push({ request: done.request, result: done.result });
    options.onResult?.(done.request, done.result);
  }
}

/**
 * The best of a search's outcomes: among those that did not fail, those trained with the most epochs any reached
 * (ASHA's highest rung; every trial for random and grid), the highest score; ties go to the lower trial id.
 * Undefined when every trial failed.
 */
export function bestOf<T extends { trialId: number; epochs: number; status: "ok" | "failed" }>(outcomes: readonly T[], score: (outcome: T) => number): T | undefined {
  const ok = outcomes.filter((o) => o.status === "ok");
  if (ok.length === 0) return undefined;
  const most = Math.max(...ok.map((o) => o.epochs));
  return ok.filter((o) => o.epochs === most).sort((a, b) => score(b) - score(a) || a.trialId - b.trialId)[0];
}
