/**
 * `relearn update ... --queue redis://...`: the update is enqueued for a worker instead of run here. The config
 * (if given) and the command-line overrides go into the job, and every path is made absolute, so a worker with
 * another working directory (on a filesystem both see) finds the same files. Without --config the worker takes
 * the config the input state records when the job runs (an earlier job of the lineage may write that state).
 */
import { resolve } from "node:path";
import { OptionsError } from "../errors.js";
import { checkRedisReachable, parseRedisUrl } from "../queue/connection.js";
import { UpdateProducer } from "../queue/enqueue.js";
import { noWorkerNote } from "../queue/workers_connected.js";
import type { UpdateSummary } from "../workflow/update.js";
import type { RelearnConfig } from "../workflow/config.js";
import type { ConfigOverrides } from "../workflow/state_config.js";
import { printJson } from "./output.js";
import { checkOutputFolder } from "./output_path.js";
import { stopWaitingOnSignals } from "./interrupt.js";

export interface QueueFlags {
  queue?: string;
  lineage?: string;
  wait?: boolean;
  json?: boolean;
  drift?: string;
  data: string;
  labels?: string;
  val?: string;
  valLabels?: string;
  inputState?: string;
  outputState: string;
  overwriteOutputState?: boolean;
  taskId?: string;
}

/** Enqueues; with --wait, waits and returns the summary for the caller to print (`--json` prints here). */
export async function enqueueUpdateFromCli(
  flags: QueueFlags,
  config: RelearnConfig | undefined,
  overrides: ConfigOverrides | undefined,
): Promise<{ summary?: UpdateSummary }> {
  if (flags.drift !== undefined) throw new OptionsError("--drift does not go with --queue: run relearn drift, or the update without --queue");
  const target = parseRedisUrl(flags.queue!, "--queue");
  // The worker sees the same paths (a shared filesystem): an output that cannot be a folder is refused here, not
  // after the job waited its turn and failed in a worker's log.
  await checkOutputFolder(flags.outputState, "--output-state");
  await checkRedisReachable(target, { attempts: 3, delayMs: 1000 });
  const file = (path: string, labels: string | undefined) => ({ path: resolve(path), ...(labels === undefined ? {} : { labels: resolve(labels) }) });
  const producer = new UpdateProducer(target);
  try {
    const job = await producer.enqueue(
      {
        ...(config === undefined ? {} : { config }),
        ...(overrides === undefined ? {} : { overrides }),
        data: file(flags.data, flags.labels),
        ...(flags.val === undefined ? {} : { val: { ...file(flags.val, flags.valLabels), labelsSetting: "--val-labels" } }),
        ...(flags.inputState === undefined ? {} : { inputState: resolve(flags.inputState) }),
        outputState: resolve(flags.outputState),
        ...(flags.overwriteOutputState === true ? { overwriteOutputState: true } : {}),
        ...(flags.taskId === undefined ? {} : { taskId: flags.taskId }),
      },
      { lineage: flags.lineage },
    );
    process.stderr.write(`relearn update: queued job ${job.jobId} (lineage ${job.lineage}, update #${job.seq} enqueued for it) at ${target.display}\n`);
    if (flags.wait !== true) {
      if (flags.json) printJson(job);
      else process.stdout.write(`${job.jobId}\n`);
      return {};
    }
    if ((await producer.workerCount()) === 0) {
      process.stderr.write(`note: ${noWorkerNote("the job waits", target.display)}\n`);
    }
    // Ctrl-C stops the waiting, not the update: the job goes on on a worker and writes its output state.
    const result = await stopWaitingOnSignals(
      (signal) => {
        // A script reading --json learns the job id even when the waiting is cut short (tester G, F20).
        if (flags.json) printJson({ ...job, result: null, stoppedWaiting: signal });
        return (
          `relearn update: ${signal}: stopped waiting; job ${job.jobId} stays queued (or running) for the workers and will write ${resolve(flags.outputState)} ` +
          `(nothing here was interrupted; relearn inspect ${flags.outputState} shows the state once it is written; relearn job ${job.jobId} --queue ${target.display} later)`
        );
      },
      () => producer.waitFor(job.jobId),
    );
    if (flags.json) printJson({ ...job, result });
    if (result.recovered) {
      if (!flags.json) process.stdout.write(`relearn update: job ${job.jobId} wrote update ${result.updatesDone} to ${result.outputState} (found written by an earlier attempt)\n`);
      return {};
    }
    return flags.json ? {} : { summary: result.summary };
  } finally {
    await producer.close();
  }
}
