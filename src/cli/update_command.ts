/** `relearn update`: one update from a config, data files and a state folder. */
import { Command, Option } from "commander";
import { DRIFT_DETECTORS } from "../drift/detector.js";
import { describeDrift } from "./drift_command.js";
import { readConfig } from "../workflow/config.js";
import { applyOverrides, configOverridesSchema, type ConfigOverrides } from "../workflow/state_config.js";
import { OptionsError } from "../errors.js";
import { updateFromConfig, type UpdateSummary } from "../workflow/update.js";
import { fixed, formatExemplars, formatHistogram, formatValidationSet, printJson, stderrLogger } from "./output.js";
import { progressCallbacks } from "./progress.js";
import { dataFlagSettings, dataFormatOption, delimiterOption, describeReading, headerOption, labelColumnOption } from "./data_flags.js";
import { exitCleanlyOnSignals, yieldForSignals } from "./interrupt.js";
import { tunedUpdate, type TunedUpdateSummary } from "../tuning/tune_update.js";
import { positiveInt } from "./number_flags.js";
import { cliLocalExecutor, formatParams, trialLine } from "./tune_command.js";

/**
 * The validation sets of the state, numbered [1], [2], ... for the phase lines: after update 1 the phases also
 * validate on sets remembered from earlier updates, which the command line of this update does not show.
 */
function validationSetLines(s: UpdateSummary): string[] {
  if (s.validationSets.length === 0) return ["validation sets: none (pass --val to validate; the state keeps it for later updates)"];
  return [
    `validation sets kept in the state (${s.validationSets.length}):`,
    ...s.validationSets.map((v, i) => {
      const earlier = v.update === null ? "an earlier update" : `update ${v.update}`;
      const origin = v.current && !v.givenAgain ? "this update" : earlier;
      const again = v.givenAgain ? "; given again with this update, identical: kept once, so not counted twice" : "";
      return formatValidationSet(i, v, origin) + again;
    }),
  ];
}

/** The summary `relearn update` prints (also for a queued update, by `relearn job`). */
export function formatUpdateSummary(s: UpdateSummary): string {
  const lines = [
    `relearn update: ${s.updater} on ${s.backend}, update ${s.updatesDone} written to ${s.outputState} in ${s.seconds.toFixed(1)} s`,
    `data: ${s.data.file}, ${s.data.items} items (${describeReading(s.data.read)}), classes ${formatHistogram(s.data.classHistogram, s.data.classNames)}`,
    ...(s.validation ? [`validation: ${s.validation.file}, ${s.validation.items} items (${describeReading(s.validation.read)})`] : []),
    ...(s.classesGrown ? [`classes: the output layer grew from ${s.classesGrown.from} to ${s.classesGrown.to} classes (--grow-classes)`] : []),
    ...validationSetLines(s),
    "phases:",
    ...s.phases.map(
      (p) =>
        `  ${p.phase.padEnd(14)} ${String(p.epochsRun).padStart(3)} epochs ${p.seconds.toFixed(1).padStart(7)} s  ` +
        // A validation-only phase (CLS-ER's stable model) has no training metrics.
        (p.last["train_loss"] === undefined && p.last["val_accuracy"] !== undefined ? "(validation only)" : `train_loss ${fixed(p.last["train_loss"])} train_acc ${fixed(p.last["train_accuracy"])}`) +
        (p.last["val_loss"] === undefined ? "" : `  val_loss ${fixed(p.last["val_loss"])}`) +
        (p.last["val_accuracy"] === undefined ? "" : `${p.last["val_loss"] === undefined ? "  " : " "}val_acc ${fixed(p.last["val_accuracy"])}`) +
        (p.stoppedEarly ? `  (stopped early; best epoch ${p.bestEpoch! + 1})` : "") +
        (s.validationSets.length === 0 ? "" : `  validated on ${p.validatedOn.length === 0 ? "none" : p.validatedOn.map((i) => `[${i + 1}]`).join(" ")}`),
    ),
    ...(s.memory ? [`memory: ${s.memory.length}/${s.memory.capacity} items (${s.memory.seen} offered), classes ${formatHistogram(s.memory.classHistogram, s.data.classNames)}`] : []),
    ...(s.exemplars ? [formatExemplars(s.exemplars, s.data.classNames)] : []),
    ...(s.drift === undefined ? [] : [formatDrift(s.drift)]),
  ];
  return lines.join("\n") + "\n";
}

function formatDrift(drift: NonNullable<UpdateSummary["drift"]>): string {
  if ("skipped" in drift) return `drift: not measured: ${drift.skipped}`;
  const items = drift.kept === "exemplars" ? "exemplars kept" : "items in memory";
  return `drift of the data from the ${drift.memoryItems} ${items} before this update (${drift.report.detector}, raw features): ${describeDrift(drift.report)}`;
}

/** The tuning part of an update --tune summary, for --json (trial summaries left out: the chosen one is the update's). */
function tuningJson(t: TunedUpdateSummary): Record<string, unknown> {
  const r = t.tuning;
  return {
    scheduler: r.settings.scheduler, space: r.spaceSource, metric: r.settings.metric, mode: r.mode, startedFrom: r.startedFrom, historyRows: r.historyRows,
    best: { trial: r.best.trialId, epochs: r.best.epochs, value: r.best.value, params: r.best.params },
    runs: r.outcomes.map(({ summary: _s, outputState: _o, ...o }) => o),
  };
}

function formatTuning(t: TunedUpdateSummary): string {
  const r = t.tuning;
  const from = "params" in r.startedFrom
    ? `started from update ${r.startedFrom.update}'s best setting (${r.settings.metric} ${fixed(r.startedFrom.value)}) as trial 0`
    : `no earlier setting tried first: ${r.startedFrom.reason}`;
  return [
    `tuning: ${r.settings.scheduler} search over ${r.spaceSource}, ${r.outcomes.length} runs (${r.outcomes.filter((o) => o.status === "failed").length} failed); ${from}`,
    `kept trial ${r.best.trialId} (${r.best.epochs} epochs): ${r.settings.metric} ${fixed(r.best.value ?? undefined)}  [${formatParams(r.best.params)}]`,
    `history: ${r.historyRows} rows in ${t.update.outputState}/tuning/history.csv`,
  ].join("\n") + "\n";
}

/** The flags' settings as overrides (undefined when no flag sets any), checked for their types. */
function commandLineOverrides(options: Record<string, unknown>, data: Record<string, unknown>): ConfigOverrides | undefined {
  if (Object.keys(options).length === 0 && Object.keys(data).length === 0) return undefined;
  const parsed = configOverridesSchema.safeParse({
    ...(Object.keys(options).length === 0 ? {} : { options }),
    ...(Object.keys(data).length === 0 ? {} : { data }),
  });
  if (!parsed.success) throw new OptionsError(`invalid command-line settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

export function updateCommand(): Command {
  return new Command("update")
    .description("update the model of a state folder with new data and write the next state (atomically)")
    .option("--config <file>", "config file (relearn init makes one); default with --input-state: the config the state records (the one its updates ran with)")
    .requiredOption("--data <file>", "training data: a CSV file (features and a label column; any name, gzip'd or not), or an IDX images file with --labels")
    .option("--labels <file>", "the IDX labels file of --data, required when --data is IDX images (a CSV file carries its labels)")
    .option("--val <file>", "validation data (CSV, or IDX images with --val-labels)")
    .option("--val-labels <file>", "IDX labels file of --val")
    .option("--input-state <dir>", "state to resume from (must exist; leave the option out to start from a fresh model)")
    .requiredOption("--output-state <dir>", "where to write the new state (may equal --input-state)")
    .option("--overwrite-output-state", "replace the state already in --output-state when it is not the input state (refused otherwise)")
    .option("--task-id <id>", "task of this data (multi-head models)")
    .addOption(headerOption('the config\'s "data.header", else auto; the state remembers it for evaluate and predict'))
    .addOption(delimiterOption('the config\'s "data.delimiter", else detected among , ; tab | (the state remembers it)'))
    .addOption(dataFormatOption('the config\'s "data.format", else auto'))
    .addOption(labelColumnOption('the config\'s "data.labelColumn", else the input state\'s label column by name, else the column named "label", else the last'))
    .option("--epochs <n>", "overrides options.maxEpochs of the config")
    .option("--memory-size <n>", "overrides options.memorySize of the config")
    .option("--seed <n>", "overrides options.seed of the config")
    .option("--backend <name>", "overrides options.backend of the config")
    .addOption(
      new Option("--drift <detector>", "before training, test the data against the memory the update starts from (raw features; mmd or ks, as relearn drift) and report it in the summary")
        .choices(DRIFT_DETECTORS),
    )
    .option("--grow-classes", "let the output layer grow when the data has classes the model has no output for (sets options.growClasses)")
    .option(
      "--tune <n>",
      'try n settings of the config\'s tuning space for this update (needs --val), keep the best trial\'s state and append the trials to the state\'s tuning/history.csv (see "tuning" in the config)',
      positiveInt,
    )
    .option("--json", "print the summary as JSON on stdout")
    .option("--queue <redis-url>", "enqueue the update for a worker (relearn worker) instead of running it; prints the job id")
    .option("--lineage <name>", "with --queue: the model lineage, whose updates run one at a time in enqueue order (default: the output state's path)")
    .option("--wait", "with --queue: wait for the job and print its summary (Ctrl-C stops the waiting, exit 130; the job stays queued or running for the workers)")
    .addHelpText(
      "after",
      `
Examples:
  relearn update --config relearn.json --data chunk1.csv --output-state state/v1
  relearn update --config relearn.json --data chunk2.csv --val val2.csv --input-state state/v1 --output-state state/v2
  relearn update --data chunk3.csv --input-state state/v2 --output-state state/v3
    (no --config: continues with the config state/v2 records, the one its updates ran with; a --config given
     must name the state's updater; flags such as --epochs apply to this update only)
  relearn update --config images.json --data images.idx.gz --labels labels.idx.gz --output-state images-state
  relearn update --config relearn.json --data chunk3.csv --grow-classes --input-state state/v2 --output-state state/v3-grown
    (chunk3.csv has a class the model has no output for yet: the output layer grows, old classes' weights kept)
  relearn update --config relearn.json --data chunk2.csv --val val2.csv --tune 8 --input-state state/v1 --output-state state/v2-tuned
    (8 settings of the config's "tuning" space; the best trial's state is kept, every trial logged in state/v2-tuned/tuning/history.csv)
  (to enqueue an update for a worker instead, with --queue, see relearn worker --help)`,
    )
    .action(async (flags) => {
      if (flags.valLabels !== undefined && flags.val === undefined) throw new OptionsError("--val-labels is the labels file of --val: give --val too (the IDX images)");
      // Without --config: the config the input state records (src/workflow/state_config.ts has the rules).
      const config = flags.config === undefined ? undefined : await readConfig(flags.config);
      const options: Record<string, unknown> = {};
      if (flags.epochs !== undefined) options["maxEpochs"] = Number(flags.epochs);
      if (flags.memorySize !== undefined) options["memorySize"] = Number(flags.memorySize);
      if (flags.seed !== undefined) options["seed"] = Number(flags.seed);
      if (flags.backend !== undefined) options["backend"] = flags.backend;
      if (flags.growClasses === true) options["growClasses"] = true;
      const overrides = commandLineOverrides(options, dataFlagSettings(flags));
      // Checked now, against the config file when there is one (else the worker or the update checks them with the state's).
      if (config !== undefined && overrides !== undefined) applyOverrides(config, overrides);
      if (config === undefined && flags.inputState === undefined) {
        throw new OptionsError("give --config (relearn init writes one), or --input-state to continue a state with the config it records");
      }
      if (flags.queue !== undefined) {
        if (flags.tune !== undefined) throw new OptionsError("--tune does not go with --queue: run the tuned update here (relearn tune --queue sends trials to workers)");
        // Loaded only with --queue: an update run here needs neither BullMQ nor ioredis.
        const { enqueueUpdateFromCli } = await import("./update_queue.js");
        const outcome = await enqueueUpdateFromCli(flags, config, overrides);
        if (outcome.summary !== undefined && !flags.json) process.stdout.write(formatUpdateSummary(outcome.summary));
        return;
      }
      if (flags.lineage !== undefined || flags.wait === true) throw new OptionsError("--lineage and --wait go with --queue");
      // What a plain update and a tuned one (each trial, and the kept state) share.
      const request = {
        config,
        overrides,
        data: { path: flags.data, labels: flags.labels },
        val: flags.val === undefined ? undefined : { path: flags.val, labels: flags.valLabels, labelsSetting: "--val-labels" },
        inputState: flags.inputState,
        outputState: flags.outputState,
        overwriteOutputState: flags.overwriteOutputState === true,
        taskId: flags.taskId,
      };
      if (flags.tune !== undefined) {
        let written = false;
        const tuned = await exitCleanlyOnSignals(flags.outputState, () => tunedUpdate({
          ...request,
          trials: flags.tune,
          executor: cliLocalExecutor(),
          onTrial: (p) => process.stderr.write(trialLine("update --tune", p)),
          onOutputWritten: () => (written = true),
          onLeftoverRemoved: (path) => process.stderr.write(`update --tune: removed ${path}: trial states left by an earlier run that was killed\n`),
        }), { written: () => written });
        if (flags.json) printJson({ ...tuned.update, tuning: tuningJson(tuned) });
        else process.stdout.write(formatTuning(tuned) + formatUpdateSummary(tuned.update));
        return;
      }
      const summary = await exitCleanlyOnSignals(flags.outputState, () => updateFromConfig({
        ...request,
        callbacks: [...progressCallbacks("update"), yieldForSignals()],
        logger: stderrLogger,
        drift: flags.drift === undefined ? undefined : { detector: flags.drift },
      }));
      if (flags.json) printJson(summary);
      else process.stdout.write(formatUpdateSummary(summary));
    });
}
