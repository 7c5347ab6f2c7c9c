/** `relearn drift`: a drift score and p-value of a data file against a reference file. */
import { Command, InvalidArgumentError, Option } from "commander";
import { DRIFT_DETECTORS, type DriftReport } from "../drift/detector.js";
import { readConfig } from "../workflow/config.js";
import { driftFromFiles, type DriftFilesReport } from "../workflow/drift_files.js";
import { describeReading, headerOption } from "./data_flags.js";
import { fixed, printJson, stderrLogger } from "./output.js";

/** A commander parser for a whole number >= `min`. */
export function wholeNumberAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}, got "${value}"`);
    return n;
  };
}

/** A p-value readable at both ends: 4 decimals, 3 significant digits below 0.001, and an underflow said as such. */
export function formatPValue(p: number): string {
  if (p === 0) return "< 1e-300 (underflow)";
  return p < 0.001 ? p.toExponential(2) : fixed(p);
}

/** "p-value 0.0010, score 0.9990 (MMD^2 0.1234, length scale 1.2, 1000 permutations)" and the like. */
export function describeDrift(report: DriftReport): string {
  const details =
    report.detector === "mmd"
      ? `MMD^2 ${report.statistic.toPrecision(4)}, RBF length scale ${report.lengthScale!.toPrecision(4)}, ${report.numPermutations} permutations`
      : `largest KS statistic ${fixed(report.statistic)}; most shifted feature ${report.mostShiftedFeature} (p ${formatPValue(report.featurePValue!)} before the Bonferroni correction over ${report.features} features)`;
  return `score ${fixed(report.score)}, p-value ${formatPValue(report.pValue)} (${details})`;
}

/** "80 rows compared", or "1000 of 6000 rows compared (drawn with --seed; --max-samples)" after MMD's draw. */
function rowsCompared(compared: number, read: number): string {
  return compared === read ? `${read} rows compared` : `${compared} of ${read} rows compared (drawn with --seed; --max-samples)`;
}

function formatReport(report: DriftFilesReport, state: string | undefined): string {
  const on = report.on === "penultimate" ? `penultimate-layer features of ${state}'s model` : "raw features";
  return [
    `relearn drift: ${report.detector} on ${on}, ${report.features} per row`,
    `reference: ${report.readings.reference.file}, ${rowsCompared(report.referenceRows, report.readings.reference.rows)} (${describeReading(report.readings.reference)})`,
    `data: ${report.readings.data.file}, ${rowsCompared(report.dataRows, report.readings.data.rows)} (${describeReading(report.readings.data)})`,
    describeDrift(report),
    "",
  ].join("\n");
}

export function driftCommand(): Command {
  return new Command("drift")
    .description("how far a data file has drifted from a reference file: score = 1 - p-value of a two-sample test (high = drift)")
    .requiredOption("--reference <file>", "reference data: a .csv file (or IDX images, with --config or --state)")
    .requiredOption("--data <file>", "data to test against the reference, in the same layout")
    .addOption(new Option("--detector <name>", "mmd: kernel MMD with a permutation test; ks: Kolmogorov-Smirnov per feature, Bonferroni-corrected").choices(DRIFT_DETECTORS).default("mmd"))
    .option("--state <dir>", "compare the penultimate-layer features of this state's model (files read as the state reads data)")
    .option("--raw", "with --state: compare the raw features instead")
    .option("--config <file>", "without --state: read the files with this config's data settings and model input shape (a label column is dropped); without either, every CSV column is a feature")
    .addOption(headerOption("the state's or config's setting, else auto"))
    .option("--permutations <n>", "mmd: permutations of the test", wholeNumberAtLeast(1), 1000)
    .option("--max-samples <n>", "mmd: at most this many rows of each file, drawn at random with --seed", wholeNumberAtLeast(2), 1000)
    .option("--seed <n>", "mmd: seed of the permutations and of the row draw", wholeNumberAtLeast(0), 0)
    .option("--backend <name>", "auto, wasm, cpu, ...", "auto")
    .option("--json", "print the report as JSON on stdout")
    .addHelpText(
      "after",
      `
Examples:
  relearn drift --reference chunk1.csv --data chunk2.csv
  relearn drift --reference chunk1.csv --data chunk2.csv --detector ks --config relearn.json
  relearn drift --reference chunk1.csv --data chunk2.csv --state state/v1 --json`,
    )
    .action(async (flags) => {
      const report = await driftFromFiles({
        reference: { path: flags.reference },
        data: { path: flags.data },
        state: flags.state,
        raw: flags.raw === true,
        config: flags.config === undefined ? undefined : await readConfig(flags.config),
        header: flags.header,
        options: { detector: flags.detector, numPermutations: flags.permutations, maxSamples: flags.maxSamples, seed: flags.seed },
        backend: flags.backend,
        logger: stderrLogger,
      });
      if (flags.json) printJson(report);
      else process.stdout.write(formatReport(report, flags.state));
    });
}
