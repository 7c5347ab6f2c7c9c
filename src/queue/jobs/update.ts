/**
 * Job kind "update": one `relearn update` run by a worker. The data is what the command takes: the config itself
 * (so a worker needs no config file) or none (then the config the input state records when the job runs, which an
 * earlier job of the lineage may have written), the command-line overrides, and every path absolute (a worker's
 * working directory is not the producer's; states live on a filesystem both see). The update itself is
 * updateFromConfig, the same call `relearn update` makes, which also applies the rules of src/workflow/state_config.ts.
 *
 * Retries are idempotent: the output state is written atomically under its lock (src/state/), so after a crash it
 * is either as it was or complete. `outputFingerprint` (a hash of the output's manifest, which checksums every
 * file) is taken before the first attempt. A retry that finds it changed reads the state there: if its manifest
 * names this job (`queueJob`, which every state a job writes records), an earlier attempt committed and `recover`
 * reports that state instead of updating again (which, for an in-place update, would apply the chunk twice). If
 * it names another writer or none (a local `relearn update` on the same folder, a job of another lineage, or the
 * old state put back after a crash between the two renames of a commit), the update runs from the state now
 * there, so the chunk is never lost. A retry that finds the fingerprint unchanged redoes the update: same seed
 * and inputs, same bytes. (If another writer updated the folder after this job's attempt committed, the retry
 * cannot tell and updates again: a folder shared by writers outside one lineage is not ordered by the queue.)
 *
 * An output locked by another host (a worker there writing it, or killed while writing it: its lease has not run
 * out yet, src/state/lock.ts) is waited for here, until the lease runs out and the lock is taken over, rather than
 * failing the attempt: the job's retries are seconds apart, a lease lasts a minute. A holder that stays alive keeps
 * renewing, so after a few waits the attempt fails as before.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import * as z from "zod";
import { relearnConfigSchema } from "../../workflow/config.js";
import { configOverridesSchema } from "../../workflow/state_config.js";
import { updateFromConfig, type UpdateSummary } from "../../workflow/update.js";
import { inspectState } from "../../workflow/inspect_state.js";
import { findLeftoverSiblings } from "../../state/atomic_folder.js";
import { LockHeldElsewhereError } from "../../state/lock.js";
import { OptionsError } from "../../errors.js";
import type { TrainingCallback } from "../../training/callbacks.js";
import type { JobContext, ReportProgress } from "../dispatch.js";
import { lineageFieldSchema } from "../lineage_field.js";

const absolutePath = z.string().min(1).refine(isAbsolute, "must be an absolute path (the worker's working directory is not the producer's)");
const dataFileSchema = z.strictObject({ path: absolutePath, labels: absolutePath.optional(), labelsSetting: z.string().optional() });

/** The data of an "update" job. */
export const dataSchema = z.strictObject({
  /**
   * The config (a config file's content); leave it out to continue with the config the input state records.
   * Jobs enqueued before `overrides` existed carry the overrides merged in here; they run the same.
   */
  config: relearnConfigSchema.optional(),
  /** Settings for this update only, over the config (`relearn update --epochs ...`); not recorded in the state. */
  overrides: configOverridesSchema.optional(),
  data: dataFileSchema,
  val: dataFileSchema.optional(),
  inputState: absolutePath.optional(),
  outputState: absolutePath,
  overwriteOutputState: z.boolean().optional(),
  /**
   * With inputState: resume from it if it holds a state, else start from a fresh model. For a lineage kept in one
   * folder (the service example), whose first update finds nothing: a producer cannot know at enqueue time
   * whether an earlier update will have run. Off by default: a mistyped input state is an error, not a fresh start.
   */
  resumeIfExists: z.boolean().optional(),
  taskId: z.string().min(1).optional(),
  /** The model lineage and this update's place in it (set by enqueueUpdate; see lineage.ts). */
  lineage: lineageFieldSchema.optional(),
});

export type UpdateJobData = z.output<typeof dataSchema>;
export type UpdateJobInput = z.input<typeof dataSchema>;

/** The result of an update job: updateFromConfig's summary, or what a retry found already written. */
export type UpdateJobResult = { recovered: false; summary: UpdateSummary } | { recovered: true; outputState: string; updatesDone: number };

/** How often training hands the event loop a turn, so the process's SIGTERM handler can run (job_process.ts). */
const YIELD_EVERY_MS = 50;

export async function run(input: unknown, reportProgress: ReportProgress, context: JobContext): Promise<UpdateJobResult> {
  const data = input as UpdateJobData;
  let lastYield = performance.now();
  const callbacks: TrainingCallback[] = [
    {
      onEpochEnd: (event) => reportProgress({ phase: event.phase, epoch: event.epoch + 1, epochs: event.epochs }),
      onBatchEnd: async () => {
        if (performance.now() - lastYield < YIELD_EVERY_MS) return;
        await nextTurn();
        lastYield = performance.now();
      },
    },
  ];
  for (let wait = 1; ; wait++) {
    try {
      return await runOnce(data, callbacks, context.jobId);
    } catch (error) {
      if (!(error instanceof LockHeldElsewhereError) || wait > LEASE_WAITS) throw error;
      process.stderr.write(`warning: ${error.message}; waiting ${Math.ceil(error.runsOutInMs / 1000)} s\n`);
      await sleep(error.runsOutInMs + 1000);
    }
  }
}

/** How many times an attempt waits for another host's lock lease to run out before it fails. */
const LEASE_WAITS = 3;

async function runOnce(data: UpdateJobData, callbacks: TrainingCallback[], jobId: string): Promise<UpdateJobResult> {
  const inputState = await inputStateOf(data);
  if (inputState !== undefined && !existsSync(inputState) && (await findLeftoverSiblings(inputState)).length === 0) {
    // Not a lock or a race that a retry 2 s later could see end: fail for good (an OptionsError is not retried).
    // Updates whose input an earlier job writes must share its lineage, which runs that job first.
    throw new OptionsError(
      `the input state folder ${inputState} does not exist; check the path, or, if an earlier update writes it, enqueue both with the same --lineage`,
    );
  }
  const summary = await updateFromConfig({
    config: data.config,
    overrides: data.overrides,
    data: data.data,
    val: data.val,
    inputState,
    outputState: data.outputState,
    overwriteOutputState: data.overwriteOutputState,
    taskId: data.taskId,
    callbacks,
    queueJob: jobId,
    logger: { info: () => {}, warn: (message) => process.stderr.write(`warning: ${message}\n`) },
  });
  return { recovered: false, summary };
}

/** The input state to resume from: data.inputState, unless resumeIfExists and there is nothing there. */
async function inputStateOf(data: UpdateJobData): Promise<string | undefined> {
  if (data.inputState === undefined || data.resumeIfExists !== true || existsSync(data.inputState)) return data.inputState;
  // A write of it that stopped between its two renames leaves the state beside it: the updater puts it back.
  const interrupted = (await findLeftoverSiblings(data.inputState)).some((leftover) => leftover.type === "old");
  return interrupted ? data.inputState : undefined;
}

/** A hash of the output state's manifest (which lists every file's checksum), or "absent". */
export async function outputFingerprint(input: unknown): Promise<string> {
  const data = input as UpdateJobData;
  try {
    return createHash("sha256").update(await readFile(join(data.outputState, "manifest.json"))).digest("hex");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
}

/**
 * The state an earlier attempt of this job committed, or undefined when the state now in the output folder was
 * written by anything else (inspectState puts back a write stopped between its renames and checks every checksum).
 */
export async function recover(input: unknown, context: JobContext): Promise<UpdateJobResult | undefined> {
  const data = input as UpdateJobData;
  if (!existsSync(data.outputState) && (await findLeftoverSiblings(data.outputState)).length === 0) return undefined;
  const state = await inspectState(data.outputState);
  if (state.queueJob !== context.jobId) return undefined;
  return { recovered: true, outputState: data.outputState, updatesDone: state.updatesDone };
}
