/** `relearn inspect`: what a state folder holds. */
import { Command } from "commander";
import { inspectState } from "../workflow/inspect_state.js";
import { fixed, formatExemplars, formatHistogram, formatValidationSet, printJson } from "./output.js";

export function inspectCommand(): Command {
  return new Command("inspect")
    .description("show a state folder: format, updater and options, updates so far, memory, metrics history")
    .argument("<dir>", "state folder")
    .option("--json", "print everything as JSON on stdout")
    .addHelpText("after", "\nExample:\n  relearn inspect state/v2 --json")
    .action(async (dir: string, flags) => {
      const s = await inspectState(dir);
      if (flags.json) return printJson(s);
      const lastEpochs = new Map<string, (typeof s.metricsHistory)[number]>();
      for (const r of s.metricsHistory) lastEpochs.set(`${r.update}/${r.phase}`, r);
      const lines = [
        `${s.dir}: relearn state format ${s.formatVersion} (written by ${s.library.name} ${s.library.version})` +
          (s.formatVersion === 1 ? "; warning: format 1 has no manifest checksum, so edits to manifest.json cannot be detected" : ""),
        `updater: ${s.updater}, ${s.updatesDone} update(s) so far; ${s.files} files, ${(s.bytes / 1e6).toFixed(2)} MB`,
        `options: ${JSON.stringify(s.options)}`,
        `data settings (evaluate and predict read files with them): ${s.dataSettings ? shownDataSettings(s.dataSettings) : "none stored"}`,
        s.config === null
          ? "config: none recorded (relearn update from this state needs --config)"
          : `config: updater ${String(s.config["updater"])}, recorded (relearn update continues with it when given no --config)`,
        ...(s.exemplars ? [formatExemplars(s.exemplars, s.dataSettings?.classNames)] : []),
        ...(s.memory ? [`memory: ${s.memory.length}/${s.memory.capacity} items (${s.memory.seen} offered, ${s.memory.policy}), classes ${formatHistogram(s.memory.classHistogram, s.dataSettings?.classNames)}`] : []),
        ...(s.validationSets.length === 0
          ? ["validation sets: none"]
          : [
              `validation sets (${s.validationSets.length}; every later update validates on them again):`,
              ...s.validationSets.map((v, i) => formatValidationSet(i, v, v.update === null ? "an earlier update" : `update ${v.update}`)),
            ]),
        "metrics history (last epoch of each phase):",
        ...[...lastEpochs.values()].map(
          (r) => `  update ${r.update} ${String(r.phase).padEnd(14)} epoch ${r.epoch + 1}: train_loss ${fixed(r.logs["train_loss"])} val_accuracy ${fixed(r.logs["val_accuracy"])}`,
        ),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}

/** The data settings as JSON on one line, a long list of feature names (784 pixels) cut to its first names and count (--json has them all). */
function shownDataSettings(settings: { featureNames?: string[] | undefined }): string {
  const names = settings.featureNames;
  if (names === undefined || names.length <= 12) return JSON.stringify(settings);
  return JSON.stringify({ ...settings, featureNames: [...names.slice(0, 8), `... (${names.length} names)`] });
}
