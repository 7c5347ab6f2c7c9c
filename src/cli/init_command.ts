/** `relearn init`: write a starting config file and its JSON Schema (or print the config with --json). */
import { Command, InvalidArgumentError } from "commander";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OptionsError } from "../errors.js";
import { UPDATER_NAMES } from "../updaters/registry.js";
import { suggestPodLayers } from "../updaters/pod_experience_replay.js";
import { initBackend } from "../backend/backend.js";
import { buildModel } from "../model/continual_model.js";
import type { ModelSpec } from "../model/spec.js";
import { configJsonSchema, defaultConfig, parseConfig, writeConfig } from "../workflow/config.js";
import { printJson } from "./output.js";
import { dataFlagSettings, dataFormatOption, delimiterOption, headerOption, labelColumnOption } from "./data_flags.js";
import { INITIALIZER_FLAG_HELP, MODEL_FLAG_HELP, resolveModelFlag } from "./model_flag.js";
import { positiveInt } from "./number_flags.js";
import { checkOutputFile, writingOutput } from "./output_path.js";

function shape(value: string): number[] {
  const dims = value.split(",").map((part) => Number(part.trim()));
  if (dims.length === 0 || !dims.every((dim) => Number.isInteger(dim) && dim > 0)) {
    throw new InvalidArgumentError(`expected positive integers separated by commas (784 or 28,28,1), got "${value}"`);
  }
  return dims;
}

/** Comma-separated class names in index order ("cat,dog": cat is class 0). */
function classNames(value: string): string[] {
  const names = value.split(",").map((name) => name.trim());
  if (names.some((name) => name === "")) throw new InvalidArgumentError(`expected names separated by commas (cat,dog,bird), got "${value}"`);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new InvalidArgumentError(`class name "${repeated}" appears twice in "${value}"`);
  return names;
}

/** The config keys of POD's layers and pooling, per updater that distils layers. */
const POD_OPTION_KEYS: Readonly<Record<string, { layers: string; type: string }>> = {
  "pod-er": { layers: "layers", type: "distillationType" },
  "super-er": { layers: "podLayers", type: "podDistillationType" },
};

/** Builds the model (on the cpu backend: only its layers' output shapes are read) to choose its POD layers. */
async function suggestPodLayersOf(spec: ModelSpec): Promise<(ReturnType<typeof suggestPodLayers> & { bodyLayers: string[] }) | undefined> {
  await initBackend("cpu");
  const model = buildModel(spec, { seed: 0 });
  try {
    const suggested = suggestPodLayers(model);
    return suggested === undefined ? undefined : { ...suggested, bodyLayers: model.bodyLayerNames() };
  } finally {
    model.dispose();
  }
}

export function initCommand(): Command {
  return new Command("init")
    .description("create a config file (model spec, updater and options, data settings) and relearn.schema.json beside it")
    .option("--config <file>", "config file to create", "relearn.json")
    .option("--updater <name>", `one of ${UPDATER_NAMES.join(", ")}`, "rd")
    .option("--model <spec>", MODEL_FLAG_HELP, "mlp:256,256")
    .option("--initializer <name>", INITIALIZER_FLAG_HELP)
    .option("--input-shape <dims>", "shape of one sample: the feature count of a CSV row (e.g. 8), or height,width,channels of an image (28,28,1)", shape, [784])
    .option("--classes <n>", "number of classes (labels 0 to n-1)", positiveInt, 10)
    .option(
      "--class-names <names>",
      'class names in index order, comma-separated (cat,dog,bird: labels in CSV files are these names; sets --classes to their count); written as "data.classNames"',
      classNames,
    )
    .addOption(labelColumnOption('the column named "label", else the last; written as "data.labelColumn"'))
    .addOption(headerOption('auto; written to the config as "data.header"'))
    .addOption(delimiterOption('detected when the file is read; written to the config as "data.delimiter" when given'))
    .addOption(dataFormatOption('auto; written to the config as "data.format" when given'))
    .option("--force", "overwrite an existing config file")
    .option("--json", "print the config as JSON on stdout instead of writing any file")
    .addHelpText(
      "after",
      `
Examples:
  relearn init --config relearn.json --input-shape 8 --classes 3 --model mlp:64,64 --label-column label
  relearn init --config pets.json --input-shape 8 --class-names cat,dog,bird --label-column species
  relearn init --config images.json --input-shape 28,28,1 --classes 10 --model cnn
  relearn init --input-shape 8 --classes 3 --json     # print the config, write nothing`,
    )
    .action(async (flags, command: Command) => {
      const names: string[] | undefined = flags.classNames;
      if (names !== undefined && command.getOptionValueSource("classes") === "cli" && flags.classes !== names.length) {
        throw new OptionsError(`--classes ${flags.classes} disagrees with --class-names, which names ${names.length} classes; give one of them`);
      }
      const classes: number = names?.length ?? flags.classes;
      const model = await resolveModelFlag(flags.model, { inputShape: flags.inputShape, classes }, "--model", flags.initializer);
      // A spec file sets its own shape: a flag that says otherwise is an error, not dropped (tester H, H15).
      const given = (option: string) => command.getOptionValueSource(option) === "cli";
      const disagree = [
        ...(given("inputShape") && model.inputShape.join(",") !== (flags.inputShape as number[]).join(",") ? [`--input-shape ${(flags.inputShape as number[]).join(",")} (the file: ${model.inputShape.join(",")})`] : []),
        ...((given("classes") || names !== undefined) && model.classes !== classes ? [`${names === undefined ? `--classes ${classes}` : `--class-names (${classes} names)`} (the file: ${model.classes} classes)`] : []),
      ];
      if (disagree.length > 0) throw new OptionsError(`--model ${flags.model} disagrees with ${disagree.join(" and ")}: change the file, or leave out the flag`);
      const config = defaultConfig({
        model,
        updater: flags.updater,
        ...dataFlagSettings(flags),
        ...(names === undefined ? {} : { classNames: names }),
      });
      // POD-ER and Super-ER need layers named, and a pooling their outputs allow: a config without them cannot run.
      const podKeys = POD_OPTION_KEYS[flags.updater as string];
      if (podKeys !== undefined) {
        const suggested = await suggestPodLayersOf(model);
        if (suggested === undefined) {
          process.stderr.write(`note: ${flags.updater} distils the outputs of body layers, and this model has none: give it hidden layers, or use another updater\n`);
        } else {
          Object.assign(config.options!, { [podKeys.layers]: suggested.layers, [podKeys.type]: suggested.distillationType });
          process.stderr.write(
            `note: ${flags.updater} will distil layer "${suggested.layers[0]}" with "${suggested.distillationType}" pooling ("options.${podKeys.layers}", ` +
              `"options.${podKeys.type}"); the model's body layers: ${suggested.bodyLayers.join(", ")}\n`,
          );
        }
      }
      if (flags.json) {
        parseConfig(config, "the config");
        printJson(config);
        return;
      }
      // A folder is refused as such (--force would not help), and so is a path that cannot be created.
      await checkOutputFile(flags.config, "--config", "relearn.json");
      await checkOutputFile(join(dirname(flags.config), "relearn.schema.json"), "the schema file beside --config", "relearn.schema.json");
      if (existsSync(flags.config) && !flags.force) throw new OptionsError(`${flags.config} exists; use --force to overwrite it`);
      await writingOutput(flags.config, "--config", async () => {
        await mkdir(dirname(flags.config), { recursive: true });
        await writeConfig(flags.config, config);
        await writeFile(join(dirname(flags.config), "relearn.schema.json"), JSON.stringify(configJsonSchema(), null, 2) + "\n");
      });
      process.stdout.write(`wrote ${flags.config} and ${join(dirname(flags.config), "relearn.schema.json")}\n`);
    });
}
