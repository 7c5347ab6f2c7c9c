/** `relearn export-model`: a state's model as a plain tfjs model for serving, logits or probabilities out. */
import { Command } from "commander";
import { OptionsError } from "../errors.js";
import { exportModelToFolder } from "../model/io.js";
import { nearestClassMeanExportRefusal } from "../model/export_model.js";
import { loadStateModel } from "../workflow/state_model.js";
import { stderrLogger } from "./output.js";
import { checkOutputFolder, writingOutput } from "./output_path.js";

export function exportModelCommand(): Command {
  return new Command("export-model")
    .description(
      "write a state's model as a plain tfjs model (model.json + weights.bin) for tf.loadLayersModel; its outputs are " +
        "logits (as the state stores them) unless --probabilities",
    )
    .requiredOption("--state <dir>", "state folder")
    .requiredOption("--out <dir>", "folder to write model.json and weights.bin into (created if missing)")
    .option("--probabilities", "end the model with a softmax: outputs are class probabilities (each row sums to 1)")
    .addHelpText("after", "\nExample:\n  relearn export-model --state state/v2 --out serving --probabilities")
    .action(async (flags: { state: string; out: string; probabilities?: boolean }) => {
      await checkOutputFolder(flags.out, "--out");
      const { model, dataFormat, classMeans } = await loadStateModel(flags.state, "auto", stderrLogger);
      try {
        // A plain tfjs model has no nearest-class-mean step: its logits would answer differently from the state.
        if (classMeans !== undefined) throw new OptionsError(nearestClassMeanExportRefusal(flags.state));
        const exported = await writingOutput(flags.out, "--out", () => exportModelToFolder(model, flags.out, {
          outputs: flags.probabilities ? "probabilities" : "logits",
          classNames: dataFormat?.classNames,
        }));
        const names = exported.classNames === undefined ? "" : ` (${exported.classNames.join(", ")})`;
        process.stdout.write(
          `wrote ${flags.out}/model.json and weights.bin: input [N, ${model.inputShape.join(", ")}], output ${exported.outputs} ` +
            `[N, ${model.numClasses}] per head${names}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}
