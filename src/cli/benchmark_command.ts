/**
 * `relearn benchmark`: parse flags -> validate -> run the benchmark library ->
 * write the results folder -> print the comparison table (or JSON).
 */
import { Command } from "commander";
import { resolve } from "node:path";
import { loadNamedData } from "../data/named_datasets.js";
import { SCENARIO_NAMES } from "../data/scenarios/registry.js";
import { checkBenchmarkCells, runBenchmark } from "../benchmark/run_benchmark.js";
import { benchmarkConfig, type BenchmarkSpec } from "../benchmark/benchmark_spec.js";
import { writeResultsFolder } from "../reporting/files.js";
import { formatComparisonTable } from "../reporting/summary.js";
import { UPDATER_NAMES } from "../updaters/registry.js";
import { POD_DISTILLATION_TYPES } from "../updaters/pooled_output_distillation.js";
import { progressCallbacks } from "./progress.js";
import { headerOption } from "./data_flags.js";
import { INITIALIZER_FLAG_HELP, MODEL_FLAG_HELP, resolveModelFlag } from "./model_flag.js";
import { mergeUpdaterOptions, updaterOptionsFlag } from "./updater_options_flag.js";
import { checkUpdaterNames, variantBase, variantEntry } from "../benchmark/updater_variant.js";
import { OptionsError } from "../errors.js";
import { list, nonNegativeInt, positiveInt, positiveNumber } from "./number_flags.js";
import { checkOutputFolder, writingOutput } from "./output_path.js";

const NAMED_DATASETS = ["fashion-mnist", "fashion-mnist-bundled", "auto", "letter"];

/**
 * Flags that set options of some updaters only, with the registry names they apply to. (`--memory-sizes` without
 * an updater with a memory is let pass: it changes nothing, and the header says "memory none".)
 */
const UPDATER_FLAGS: readonly { flag: string; option: string; updaters: readonly string[] }[] = [
  { flag: "--consolidation-epochs", option: "consolidationEpochs", updaters: ["rd", "rd-budget"] },
  { flag: "--pod-layers", option: "podLayers", updaters: ["pod-er", "super-er"] },
  { flag: "--pod-distillation", option: "podDistillation", updaters: ["pod-er", "super-er"] },
];

/**
 * A flag given for updaters none of which is in the grid is an error, as an --updater-options entry for an updater
 * not in --updaters is: it would be ignored, and the grid run without the setting the user meant (tester H, H10).
 */
function refuseUnusedFlags(updaters: readonly string[], given: (option: string) => boolean): void {
  for (const { flag, option, updaters: takers } of UPDATER_FLAGS) {
    if (!given(option)) continue;
    if (updaters.some((name) => takers.includes(variantBase(name)))) continue;
    throw new OptionsError(`${flag} applies to ${takers.join(" and ")}, and --updaters (${updaters.join(", ")}) has none: drop ${flag}, or add such an updater`);
  }
}

export function benchmarkCommand(): Command {
  return new Command("benchmark")
    .description("run continual-learning updaters on a benchmark scenario and compare them")
    .option(
      "--dataset <name>",
      "fashion-mnist (the full 70,000 images, Debian package dataset-fashion-mnist), fashion-mnist-bundled (the 10,000/2,000-image subset shipped " +
        "with relearn), auto (the full set when installed, else the bundled subset), a folder of IDX files named like MNIST's, or a train .csv (with --test-dataset); letter: UCI Letter Recognition (tabular, 16 features, 26 classes, shipped with relearn)",
      "auto",
    )
    .option("--test-dataset <file>", "test .csv (with a .csv --dataset)")
    .addOption(headerOption("auto (for .csv --dataset and --test-dataset)"))
    .option("--layout <layout>", "flat or hwc (for CNN models) images", "flat")
    .option("--scenario <name>", `one of ${SCENARIO_NAMES.join(", ")}`, "class-incremental")
    .option("--tasks <n>", "number of updates", positiveInt, 5)
    .option("--train-per-task <n>", "permuted/rotated: training samples per update (default: all)", positiveInt)
    .option("--test-per-task <n>", "permuted/rotated: test samples per update (default: all)", positiveInt)
    .option(
      "--updaters <list>",
      `comma-separated: ${UPDATER_NAMES.join(", ")}; a variant <updater>@<label> (er@lr-high) runs that updater with its own --updater-options, as its own rows`,
      "rd,fine-tuning,joint",
    )
    .option("--memory-sizes <list>", "memory sizes for updaters with a memory", list(positiveInt), [500])
    .option("--seeds <list>", "seeds (one run per seed)", list(nonNegativeInt), [0])
    .option("--epochs <n>", "epochs per training phase", positiveInt, 5)
    .option("--batch-size <n>", "batch size", positiveInt, 32)
    .option("--lr <x>", "Adam learning rate", positiveNumber, 1e-3)
    .option("--model <spec>", MODEL_FLAG_HELP, "mlp:256,256")
    .option("--initializer <name>", INITIALIZER_FLAG_HELP)
    .option("--backend <name>", "auto, wasm, cpu, tensorflow, webgl, webgpu", "auto")
    .option("--consolidation-epochs <n>", "RD (rd, rd-budget): epochs of the consolidation phase (default: --epochs for rd, the budget rule for rd-budget)", nonNegativeInt)
    .option(
      "--pod-layers <list>",
      "pod-er, super-er: comma-separated body layers whose outputs are distilled (for an mlp model: dense_0, dense_0_relu, dense_1_relu, ...); required by both",
      (value: string) => value.split(",").map((s) => s.trim()),
    )
    .option("--pod-distillation <type>", `pod-er, super-er: pooling of the distilled outputs, one of ${POD_DISTILLATION_TYPES.join(", ")} (an mlp's layers take channel or pixel)`, "spatial")
    .option(
      "--updater-options <json>",
      `hyper-parameters per updater or variant, as JSON keyed by its name in --updaters, over those other flags set, e.g. '{"cls-er": {"newDataLoss": "asymmetric"}}' (each updater's options as in the README)`,
      updaterOptionsFlag,
    )
    .option(
      "--queue <redis-url>",
      "run the grid's cells on relearn worker processes through this Redis (e.g. redis://127.0.0.1:6379) instead of here; same results folder. " +
        "Data paths must mean the same on the workers (a shared filesystem); finished cells are kept, so a rerun only runs the missing ones",
    )
    .option("--out <dir>", "results folder", "results/benchmark")
    .option("--no-png", "skip the PNG copies of the charts")
    .option("--json", "print the summary as JSON on stdout (progress stays on stderr)")
    .addHelpText(
      "after",
      `
Examples:
  relearn benchmark --dataset train.csv --test-dataset test.csv --tasks 3 --updaters rd,fine-tuning --model mlp:32 --epochs 1
  relearn benchmark --dataset fashion-mnist-bundled --updaters rd,fine-tuning,joint --epochs 2
  relearn benchmark --dataset fashion-mnist --updaters pod-er,super-er,er --pod-layers dense_0_relu,dense_1_relu --pod-distillation pixel
  relearn benchmark --dataset fashion-mnist --updaters cls-er,er-ace --updater-options '{"cls-er": {"newDataLoss": "asymmetric"}}'
  relearn benchmark --dataset fashion-mnist --updaters er,er@lr-high --updater-options '{"er@lr-high": {"optimizer": {"name": "adam", "learningRate": 0.01}}}'
  relearn benchmark --dataset letter --tasks 13 --updaters rd,rd-budget,er,der++,fine-tuning,joint --seeds 0,1
  relearn benchmark --dataset fashion-mnist --updaters rd,fine-tuning,joint --memory-sizes 200,500,2000 --seeds 0,1,2
  relearn benchmark --dataset fashion-mnist --updaters rd,er,fine-tuning --seeds 0,1,2 --queue redis://127.0.0.1:6379   # with relearn worker --redis ... running`,
    )
    .action(async (flags, command: Command) => {
      // Before any cell: the results folder is written only after the whole grid ran.
      await checkOutputFolder(flags.out, "--out");
      const updaters = String(flags.updaters).split(",").map((s) => s.trim());
      checkUpdaterNames(updaters, (name) => Object.keys(flags.updaterOptions?.[name] ?? {}).length > 0);
      refuseUnusedFlags(updaters, (flag) => command.getOptionValueSource(flag) === "cli");
      // Before loading data: a misnamed updater in --updater-options fails at once.
      const updaterOptions = mergeUpdaterOptions(updaters, {
            ...(flags.consolidationEpochs === undefined
              ? {}
              : { rd: { consolidationEpochs: flags.consolidationEpochs }, "rd-budget": { consolidationEpochs: flags.consolidationEpochs } }),
            "pod-er": { distillationType: flags.podDistillation, ...(flags.podLayers === undefined ? {} : { layers: flags.podLayers }) },
            "super-er": { podDistillationType: flags.podDistillation, ...(flags.podLayers === undefined ? {} : { podLayers: flags.podLayers }) },
          }, flags.updaterOptions);
      // Loaded only with --queue (a local benchmark never imports BullMQ); the URL and Redis are checked before the data loads.
      const queued = flags.queue === undefined ? undefined : await import("./benchmark_queue.js");
      const queue = queued === undefined ? undefined : await queued.queueTarget(String(flags.queue));
      const data = await loadNamedData(flags.dataset, { testDataset: flags.testDataset, layout: flags.layout, header: flags.header });
      // The scenario rotates images [h, w, c]; the library's remedy (imageShape) is not a flag (tester H, H11).
      if (flags.scenario === "rotated" && data.train.featureShape.length === 1) {
        throw new OptionsError(
          `--scenario rotated turns images, but ${data.name} was loaded flat ([${data.train.featureShape.join(", ")}]): add --layout hwc to load its images as [height, width, channels]`,
        );
      }
      const model = await resolveModelFlag(flags.model, { inputShape: data.train.featureShape, classes: data.train.numClasses }, "--model", flags.initializer);
      process.stderr.write(
        `relearn benchmark: ${data.name} (${data.train.length} train / ${data.test.length} test), ` +
          `${flags.scenario} x ${flags.tasks}, ` +
          `updaters ${updaters.join(", ")}, memory ${updaters.some((u) => variantEntry(u).usesMemory) ? flags.memorySizes.join("/") : "none"}, seeds ${flags.seeds.join("/")}, ${flags.epochs} epochs\n` +
          // On a line of its own: a dataset of 26 named classes would bury the settings above.
          (data.classNames === undefined ? "" : `classes: ${data.classNames.map((name, i) => `${i} ${name}`).join(", ")}\n`),
      );
      // The grid as plain JSON, paths made absolute: the same spec drives the local run and a queue's workers.
      const spec: BenchmarkSpec = {
        data: {
          // "auto" as it resolved here, so a worker with the full set installed still runs on the same data.
          dataset: NAMED_DATASETS.includes(flags.dataset) ? data.name : resolve(flags.dataset),
          ...(flags.testDataset === undefined ? {} : { testDataset: resolve(flags.testDataset) }),
          layout: flags.layout,
          ...(flags.header === undefined ? {} : { header: flags.header }),
        },
        scenario: flags.scenario,
        tasks: flags.tasks,
        ...(flags.trainPerTask === undefined ? {} : { trainPerTask: flags.trainPerTask }),
        ...(flags.testPerTask === undefined ? {} : { testPerTask: flags.testPerTask }),
        model,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        optimizer: { name: "adam", learningRate: flags.lr },
        backend: flags.backend,
        updaters,
        memorySizes: flags.memorySizes,
        seeds: flags.seeds,
        updaterOptions,
      };
      const config = benchmarkConfig(spec, data);
      // Every updater's options, before the first cell (here or on the workers) trains.
      await checkBenchmarkCells(config);
      const results =
        queue === undefined
          ? await runBenchmark(config, {
              callbacksFor: (p) =>
                progressCallbacks(`[${p.run + 1}/${p.runs}] ${p.updater}${p.memorySize === null ? "" : ` m${p.memorySize}`} s${p.seed} update ${p.update + 1}/${p.updates}`),
              onUpdate: (p, row, seconds) =>
                process.stderr.write(
                  `  ${p.updater} update ${p.update + 1}: accuracy on tasks so far ${row.slice(0, p.update + 1).map((a) => a.toFixed(3)).join(" ")} (${seconds.toFixed(1)} s)\n`,
                ),
            })
          : await queued!.runQueuedBenchmarkCli(queue, spec, config);
      const out = resolve(flags.out);
      const written = await writingOutput(flags.out, "--out", () => writeResultsFolder(out, results, { pngs: flags.png }));
      if (written.removed.length > 0) {
        process.stderr.write(`benchmark: ${out} held an earlier run's results; removed its ${written.removed.length} file(s) this run does not rewrite (${written.removed.slice(0, 3).join(", ")}${written.removed.length > 3 ? ", ..." : ""})\n`);
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify(written.summary, null, 2) + "\n");
      } else {
        process.stdout.write(`\n${formatComparisonTable(written.summary)}\n\nreport: ${out}/report.html\n`);
      }
    });
}
