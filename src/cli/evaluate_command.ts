/** `relearn evaluate` and `relearn predict`: the model of a state on a data file. */
import { Command } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { evaluateState } from "../workflow/evaluate_state.js";
import { predictState, predictionsToCsv, predictionsToJsonl, unnamedPredictionsNote } from "../workflow/predict_state.js";
import { readConfig } from "../workflow/config.js";
import { fixed, printJson, stderrLogger } from "./output.js";
import { checkOutputFile, writingOutput } from "./output_path.js";
import { dataFlagSettings, dataFormatOption, delimiterOption, describeReading, headerOption, labelColumnOption } from "./data_flags.js";

const dataOptions = (command: Command, data: string, labels: string) =>
  command
    .requiredOption("--state <dir>", "state folder (written by relearn update)")
    .requiredOption("--data <file>", data)
    .option("--labels <file>", labels)
    .option("--config <file>", "config whose data settings (header, label column, delimiter, format, scale, layout) apply instead of those the state remembers")
    .addOption(headerOption("as the state's training data was read (the state remembers it), else auto"))
    .addOption(delimiterOption("the state's (or --config's) data.delimiter, else detected; the training file's separator when the lines leave a choice"))
    .addOption(dataFormatOption("the state's (or --config's) data.format, else auto"))
    .addOption(labelColumnOption("the training file's label column by name (the state remembers it), else the column named \"label\", else the last"))
    .option("--task-id <id>", "head to use (multi-head models)")
    .option("--backend <name>", "auto, wasm, cpu, ...", "auto");

async function common(flags: Record<string, string | boolean | undefined>) {
  // Data settings: the state's, then the config's, then --header, --delimiter and --data-format.
  const config = typeof flags["config"] === "string" ? (await readConfig(flags["config"])).data : undefined;
  const given = dataFlagSettings(flags as Parameters<typeof dataFlagSettings>[0]);
  const format = Object.keys(given).length === 0 ? config : { ...config, ...given };
  return {
    state: flags["state"] as string,
    data: { path: flags["data"] as string, labels: flags["labels"] as string | undefined },
    ...(format ? { format } : {}),
    ...(flags["taskId"] ? { taskId: flags["taskId"] as string } : {}),
    backend: flags["backend"] as never,
    logger: stderrLogger,
  };
}

export function evaluateCommand(): Command {
  return dataOptions(
    new Command("evaluate"),
    "labelled data: a CSV file (features and a label column), or an IDX images file with --labels",
    "the IDX labels file of --data, required when --data is IDX images (a CSV file carries its labels in a column: leave this out)",
  )
    .description("accuracy, per-class accuracy and confusion matrix of a state's model on labelled data")
    .option("--json", "print the evaluation as JSON on stdout")
    .addHelpText("after", "\nExample:\n  relearn evaluate --state state/v2 --data test.csv")
    .action(async (flags) => {
      const result = await evaluateState(await common(flags));
      if (flags.json) return printJson(result);
      const names = result.classNames;
      const name = (c: number) => (names?.[c] === undefined ? String(c) : `${c} ${names[c]}`);
      const width = Math.max(3, ...result.confusionMatrix.map((_, c) => name(c).length));
      const cell = Math.max(5, ...(names ?? []).map((n) => n.length));
      const lines = [
        `${result.file}: ${result.items} items (${describeReading(result.read)}), accuracy ${fixed(result.accuracy)}`,
        "per-class accuracy:",
        ...result.perClassAccuracy.map((a, c) => `  class ${names?.[c] === undefined ? c : `${c} (${names[c]})`}: ${fixed(a)}`),
        "confusion matrix (rows: label, columns: prediction):",
        // With names, a header row names the columns; each cell as wide as the longest name.
        ...(names === undefined ? [] : [`  ${"".padStart(width)} | ${result.confusionMatrix.map((_, c) => (names[c] ?? String(c)).padStart(cell)).join(" ")}`]),
        ...result.confusionMatrix.map((row, c) => `  ${name(c).padStart(width)} | ${row.map((n) => String(n).padStart(cell)).join(" ")}`),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}

export function predictCommand(): Command {
  return dataOptions(
    new Command("predict"),
    "data to predict on: a CSV file (one column per model input; a label column, if present, is dropped) or an IDX images file",
    "not needed: predict reads IDX images without labels; a labels file given is checked against the images (count, range) and otherwise unused",
  )
    .description("predicted class (and its name, when the state has class names) and class probabilities for every row of a data file (labels not needed)")
    .option("--format <format>", "output format of the predictions: csv or jsonl (for the input's format see --data-format)", "csv")
    .option("--out <file>", "write here instead of stdout")
    .option("--json", "same as --format jsonl")
    .addHelpText("after", "\nExample:\n  relearn predict --state state/v2 --data new.csv --format jsonl --out predictions.jsonl")
    .action(async (flags) => {
      // Before predicting: a --out that is a folder (or cannot be made) is found at once, not after the work.
      if (flags.out) await checkOutputFile(flags.out, "--out", "predictions.csv");
      const predictions = await predictState(await common(flags));
      // On stderr, so the row count and the header decision are visible without touching the output.
      process.stderr.write(`relearn predict: ${predictions.read.file}: ${predictions.read.rows} rows (${describeReading(predictions.read, { labelsRead: false })})\n`);
      const unnamed = unnamedPredictionsNote(predictions, predictions.classNames);
      if (unnamed !== undefined) process.stderr.write(`note: ${unnamed}\n`);
      const text = flags.json || flags.format === "jsonl" ? predictionsToJsonl(predictions, predictions.classNames) : predictionsToCsv(predictions, predictions.classNames);
      if (flags.out) {
        await writingOutput(flags.out, "--out", async () => {
          await mkdir(dirname(flags.out), { recursive: true });
          await writeFile(flags.out, text);
        });
      }
      else process.stdout.write(text);
    });
}
