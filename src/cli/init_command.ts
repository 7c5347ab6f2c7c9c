/** `relearn init`: write a starting config file and its JSON Schema. */
import { Command } from "commander";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OptionsError } from "../errors.js";
import { UPDATER_NAMES } from "../updaters/registry.js";
import { configJsonSchema, defaultConfig, writeConfig } from "../workflow/config.js";
import { printJson } from "./output.js";
import { headerOption } from "./data_flags.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create a config file (model spec, updater and options) and relearn.schema.json beside it")
    .option("--config <file>", "config file to create", "relearn.json")
    .option("--updater <name>", `one of ${UPDATER_NAMES.join(", ")}`, "rd")
    .option("--input-shape <dims>", "sample shape, e.g. 784 or 28,28,1", "784")
    .option("--classes <n>", "number of classes", "10")
    .addOption(headerOption('auto; written to the config as "data.header"'))
    .option("--force", "overwrite an existing config file")
    .option("--json", "print the config as JSON on stdout")
    .addHelpText("after", "\nExample:\n  relearn init --config relearn.json --updater rd --input-shape 784 --classes 10")
    .action(async (flags) => {
      if (existsSync(flags.config) && !flags.force) throw new OptionsError(`${flags.config} exists; use --force to overwrite it`);
      const config = defaultConfig({
        inputShape: String(flags.inputShape).split(",").map(Number),
        classes: Number(flags.classes),
        updater: flags.updater,
        ...(flags.header === undefined ? {} : { header: flags.header }),
      });
      await writeConfig(flags.config, config);
      await writeFile(join(dirname(flags.config), "relearn.schema.json"), JSON.stringify(configJsonSchema(), null, 2) + "\n");
      if (flags.json) printJson(config);
      else process.stdout.write(`wrote ${flags.config} and ${join(dirname(flags.config), "relearn.schema.json")}\n`);
    });
}
