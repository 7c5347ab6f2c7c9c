/** `relearn tune`: search the config's tuning space for a config + data; write the trials table and the best setting. */
import { Command, Option } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseConfig, readConfig, type RelearnConfig } from "../workflow/config.js";
import { resolveUpdateConfig } from "../workflow/state_config.js";
import { OptionsError } from "../errors.js";
import { applyParams, formatParam, type Params } from "../tuning/search_space.js";
import { SCHEDULER_NAMES } from "../tuning/settings.js";
import { SEARCH_SPACE_PRESET_NAMES } from "../tuning/search_space.js";
import { formatTrialsCsv, trialRows } from "../tuning/trials_table.js";
import { inspectState } from "../workflow/inspect_state.js";
import { AllTrialsFailedError, runTuning, tuningSettingsOf, type TuneProgress, type TuneResult } from "../tuning/tune.js";
import { localExecutor } from "../tuning/executor.js";
import { fixed, printJson, stderrLogger } from "./output.js";
import { dataFlagSettings, dataFormatOption, delimiterOption, headerOption, labelColumnOption } from "./data_flags.js";
import { nonNegativeInt, positiveInt } from "./number_flags.js";
import { exitCleanlyOnSignals, stopWaitingOnSignals, yieldForSignals } from "./interrupt.js";
import { progressCallbacks } from "./progress.js";
import { withWorkDir } from "../tuning/work_dir.js";
import { resolveSpace } from "../tuning/check_space.js";
import { checkOutputFolder, writingOutput } from "./output_path.js";
import type { TrialExecutor } from "../tuning/executor.js";
import type { QueueTrialExecutor } from "../queue/trial_executor.js";

/** "a=1 b=sgd": a setting on one line. */
export function formatParams(params: Params): string {
  return Object.entries(params).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : formatParam(v)}`).join(" ");
}

/**
 * The progress line after each run, on stderr: "tune: run 3/8: trial 2, 1 epochs, 4.1 s: val_accuracy 0.6123 [...] |
 * best 0.6500 (trial 1, 1 epochs)". Runs count from 1; trials are numbered from 0, as in trials.csv and best.json.
 */
export function trialLine(label: string, p: TuneProgress): string {
  const o = p.outcome;
  const count = p.planned === undefined ? `run ${p.done}` : `run ${p.done}/${p.planned}`;
  const result = o.status === "ok" ? `${o.metric} ${fixed(o.value ?? undefined)}` : `failed (${(o.error ?? "").split(". ")[0]})`;
  const best = p.best === undefined ? "none yet" : `${fixed(p.best.value ?? undefined)} (trial ${p.best.trialId}, ${p.best.epochs} epochs)`;
  return `${label}: ${count}: trial ${o.trialId}, ${o.epochs} epochs, ${o.seconds.toFixed(1)} s: ${result}  [${formatParams(o.params)}] | best ${best}\n`;
}

/** The config with the command line's tuning and option overrides. */
export function configWithTuningFlags(config: RelearnConfig, flags: Record<string, unknown>, source: string): RelearnConfig {
  const options: Record<string, unknown> = { ...config.options };
  if (flags["epochs"] !== undefined) options["maxEpochs"] = flags["epochs"];
  if (flags["backend"] !== undefined) options["backend"] = flags["backend"];
  const tuning: Record<string, unknown> = { ...tuningSettingsOf(config) };
  if (flags["scheduler"] !== undefined) tuning["scheduler"] = flags["scheduler"];
  if (flags["preset"] !== undefined) tuning["preset"] = flags["preset"];
  if (flags["trials"] !== undefined) tuning["trials"] = flags["trials"];
  if (flags["tuneSeed"] !== undefined) tuning["seed"] = flags["tuneSeed"];
  const data = { ...config.data, ...dataFlagSettings(flags as Parameters<typeof dataFlagSettings>[0]) };
  return parseConfig({ ...config, options, tuning, data }, `${source} with command-line overrides`);
}

function summaryText(result: TuneResult, out: string): string {
  const b = result.best;
  const ok = result.outcomes.filter((o) => o.status === "ok").length;
  return [
    `relearn tune: ${result.settings.scheduler} search over ${result.spaceSource}, ${result.outcomes.length} runs (${ok} ok), ${result.settings.metric} (${result.mode})`,
    `best: ${result.settings.metric} ${fixed(b.value ?? undefined)}, trial ${b.trialId}, ${b.epochs} epochs: ${formatParams(b.params)}`,
    `written: ${join(out, "trials.csv")}, ${join(out, "best.json")}, ${join(out, "best-config.json")} (the config with the best setting)`,
  ].join("\n") + "\n";
}

/** Trials run in this process, each with its progress lines on stderr (named by trial and rung) and Ctrl-C honoured. */
export function cliLocalExecutor(): TrialExecutor {
  return localExecutor({
    logger: stderrLogger,
    callbacks: (spec) => [...progressCallbacks(`trial ${spec.trialId}${spec.rung > 0 ? ` rung ${spec.rung}` : ""}`), yieldForSignals()],
  });
}

async function queueExecutorFor(url: string, concurrency: number): Promise<QueueTrialExecutor> {
  // Loaded only with --queue: a local search needs neither BullMQ nor ioredis.
  const { checkRedisReachable, parseRedisUrl } = await import("../queue/connection.js");
  const { queueTrialExecutor } = await import("../queue/trial_executor.js");
  const target = parseRedisUrl(url, "--queue");
  await checkRedisReachable(target, { attempts: 3, delayMs: 1000 });
  process.stderr.write(`tune: trials go to the queue at ${target.display}, ${concurrency} at a time (run relearn worker processes there)\n`);
  return queueTrialExecutor(target, { concurrency });
}

export function tuneCommand(): Command {
  return new Command("tune")
    .description("search the config's tuning space (random, grid or ASHA) on a data file and its validation file; write the trials and the best setting")
    .option("--config <file>", 'config file; its "tuning" section gives the space and scheduler (default: a space by optimizer, random search, 8 trials). Default with --input-state: the config the state records')
    .requiredOption("--data <file>", "training data (CSV, or IDX images with --labels)")
    .option("--labels <file>", "IDX labels file of --data")
    .requiredOption("--val <file>", "validation data the trials are judged on (CSV, or IDX images with --val-labels)")
    .option("--val-labels <file>", "IDX labels file of --val")
    .option("--input-state <dir>", "tune the next update of this state (read only; leave out to tune a first update from a fresh model)")
    .option("--task-id <id>", "task of this data (multi-head models)")
    .addOption(new Option("--scheduler <name>", "overrides tuning.scheduler").choices(SCHEDULER_NAMES))
    .addOption(new Option("--preset <name>", "overrides tuning.preset (a named search space)").choices(SEARCH_SPACE_PRESET_NAMES))
    .option("--trials <n>", "overrides tuning.trials: settings tried (random), settings started (asha)", positiveInt)
    .option("--tune-seed <n>", "overrides tuning.seed (the scheduler's draws; training keeps options.seed)", nonNegativeInt)
    .option("--epochs <n>", "overrides options.maxEpochs (each trial's epochs; ASHA's last rung unless tuning.asha.maxEpochs)", positiveInt)
    .option("--backend <name>", "overrides options.backend")
    .addOption(headerOption('the config\'s "data.header", else auto'))
    .addOption(delimiterOption('the config\'s "data.delimiter", else detected'))
    .addOption(dataFormatOption('the config\'s "data.format", else auto'))
    .addOption(labelColumnOption('the config\'s "data.labelColumn", else the input state\'s label column by name, else the column named "label", else the last'))
    .requiredOption("--out <dir>", "folder for trials.csv, best.json and best-config.json")
    .option("--queue <url>", "run the trials as jobs on relearn's queue at this Redis (redis://host:port), on `relearn worker` processes; paths must be on a filesystem the workers see")
    .option("--queue-concurrency <n>", "with --queue: trials in the queue at once (about the number of worker processes; default 2)", positiveInt)
    .option("--json", "print the result as JSON on stdout")
    .addHelpText(
      "after",
      `
Examples:
  relearn tune --config relearn.json --data chunk1.csv --val val1.csv --trials 8 --out tuning/
  relearn tune --config relearn.json --data chunk2.csv --val val2.csv --input-state state/v1 --scheduler asha --trials 9 --epochs 9 --out tuning2/
  relearn tune --data chunk3.csv --val val3.csv --input-state state/v2 --trials 8 --out tuning3/   (the state's recorded config)
  relearn tune --config relearn.json --data chunk1.csv --val val1.csv --trials 16 --out tuning/ --queue redis://127.0.0.1:6379 --queue-concurrency 4`,
    )
    .action(async (flags) => {
      await checkOutputFolder(flags.out, "--out");
      // As `update`: without --config, the input state's recorded config (resolveUpdateConfig says what is missing).
      const given = flags.config === undefined ? undefined : await readConfig(flags.config);
      const inputState = flags.inputState === undefined ? undefined : resolve(flags.inputState);
      const { recorded } = await resolveUpdateConfig({ config: given, inputState });
      const config = configWithTuningFlags(recorded, flags, flags.config ?? `the config recorded in ${flags.inputState}`);
      // The space checked before --out is made and before any trial (runTuning checks it again: cheap).
      resolveSpace(config, tuningSettingsOf(config), { resumed: inputState !== undefined });
      const out = resolve(flags.out);
      await mkdir(out, { recursive: true });
      if (flags.queueConcurrency !== undefined && flags.queue === undefined) throw new OptionsError("--queue-concurrency goes with --queue");
      const queued = flags.queue === undefined ? undefined : await queueExecutorFor(flags.queue, flags.queueConcurrency ?? 2);
      const executor: TrialExecutor & { close?: () => Promise<void> } = queued ?? cliLocalExecutor();
      // Workers run elsewhere: every path they get is absolute (the trial folders are, under the absolute --out).
      const file = (path: string, labels: string | undefined) => ({ path: resolve(path), ...(labels === undefined ? {} : { labels: resolve(labels) }) });
      let result: TuneResult;
      try {
        result = await withWorkDir(join(out, ".trials-"), (workDir, keepOnExit) => {
          const tuning = () => runTuning({
            config,
            data: file(flags.data, flags.labels),
            val: { ...file(flags.val, flags.valLabels), labelsSetting: "--val-labels" },
            inputState,
            taskId: flags.taskId,
            workDir,
            executor,
            onTrial: (p) => process.stderr.write(trialLine("tune", p)),
          });
          if (queued === undefined) return exitCleanlyOnSignals(out, tuning, { written: () => false });
          // Queued trials run on the workers: Ctrl-C removes those not started; running ones cannot be stopped from
          // here, so their folder stays for them (removing it under them made them fail and be retried, tester F-G).
          return stopWaitingOnSignals(async (signal) => {
            const { cancelled, running } = await queued.cancel();
            const head = `relearn: interrupted (${signal}): the search stopped, ${cancelled} queued trial(s) not started were removed from the queue; nothing written to ${out}`;
            if (running === 0) return `${head}.`;
            keepOnExit();
            return `${head}. ${running} trial(s) already running keep running on the workers and write their states to ${workDir}: remove that folder once they finish.`;
          }, tuning);
        }, (path) => process.stderr.write(`tune: removed ${path}: trial states left by an earlier run that was killed\n`),
        (path) => process.stderr.write(`tune: kept ${path}: an interrupted queued search left it for trials still running on workers; remove it once they finish\n`));
      } catch (error) {
        // Nothing to choose, but each trial's setting and error is what the user needs to narrow the space.
        if (!(error instanceof AllTrialsFailedError)) throw error;
        await writingOutput(flags.out, "--out", async () => writeFile(join(out, "trials.csv"), formatTrialsCsv(trialRows(error.outcomes, inputState === undefined ? 1 : (await inspectState(inputState)).updatesDone + 1, undefined))));
        throw new AllTrialsFailedError(`${error.message}; each trial's setting and error: ${join(out, "trials.csv")}`, error.outcomes);
      } finally {
        await executor.close?.();
      }
      const best = result.best;
      const update = (best.summary?.updatesDone ?? 1);
      // Without $schema: the config's was a path relative to the config file, not to --out.
      const bestConfig: Record<string, unknown> = { ...config, options: { ...applyParams(config.options, best.params), maxEpochs: best.epochs } };
      delete bestConfig["$schema"];
      const bestJson = { metric: result.settings.metric, mode: result.mode, value: best.value, trial: best.trialId, epochs: best.epochs, params: best.params, scheduler: result.settings.scheduler, space: result.spaceSource };
      await writingOutput(flags.out, "--out", async () => {
        await writeFile(join(out, "trials.csv"), formatTrialsCsv(trialRows(result.outcomes, update, best)));
        await writeFile(join(out, "best.json"), `${JSON.stringify(bestJson, null, 2)}\n`);
        await writeFile(join(out, "best-config.json"), `${JSON.stringify(bestConfig, null, 2)}\n`);
      });
      if (flags.json) printJson({ ...bestJson, runs: result.outcomes.map(({ summary: _s, ...o }) => o) });
      else process.stdout.write(summaryText(result, flags.out));
    });
}
