// An iCaRL state read back by `relearn evaluate`, `predict`, `inspect` and `export-model`: the first two answer by nearest
// class mean (the state's class means), the last refuses (a plain tfjs model cannot carry that step).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { useBackend } from "../helpers/backend.js";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { exportModelCommand } from "../../src/cli/export_model_command.js";
import { readDataFile } from "../../src/workflow/data_files.js";
import { OptionsError } from "../../src/errors.js";
import { accuracy } from "../../src/metrics/accuracy.js";
import { predict } from "../../src/training/predict.js";
import { parseConfig } from "../../src/workflow/config.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { dataFormatFor } from "../../src/workflow/state_data.js";
import { loadStateModel } from "../../src/workflow/state_model.js";
import { updateFromConfig } from "../../src/workflow/update.js";

before(async () => {
  await useBackend("wasm");
});

test("an iCaRL state: evaluate and predict use its class means, export-model refuses it", async () => {
  const dir = await workflowFolder(20);
  try {
    const config = parseConfig({ ...workflowConfig({ memorySize: 20 }), updater: "icarl" });
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "v1") });
    const summary = await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v2") });
    // The update's summary reports the exemplars iCaRL keeps, not a replay memory.
    assert.equal(summary.memory, undefined);
    assert.deepEqual(summary.exemplars, { length: 20, memorySize: 20, classHistogram: [5, 5, 5, 5, 0, 0] });
    const state = join(dir, "v2");
    const { model, classMeans, dataFormat } = await loadStateModel(state, "wasm");
    assert.deepEqual(classMeans?.classes, [0, 1, 2, 3]);
    const test = await readDataFile({ path: join(dir, "test.csv") }, dataFormatFor(model.inputShape, dataFormat, undefined), { featureShape: model.inputShape, numClasses: 6 });
    const byMeans = await predict(model, test, { classMeans });
    model.dispose();

    const evaluation = await evaluateState({ state, data: { path: join(dir, "test.csv") } });
    assert.equal(evaluation.accuracy, accuracy(byMeans.classes, test.labels));
    const predictions = await predictState({ state, data: { path: join(dir, "test.csv") } });
    assert.deepEqual(predictions.classes, byMeans.classes);
    // Classes 4 and 5 have no exemplars: never predicted, probability 0.
    assert.ok(predictions.classes.every((c) => c < 4));
    for (let r = 0; r < predictions.classes.length; r++) assert.deepEqual([predictions.probabilities![r * 6 + 4], predictions.probabilities![r * 6 + 5]], [0, 0]);

    // inspect shows the exemplars (20 over 4 classes: 5 each) and the classes with a mean.
    assert.deepEqual((await inspectState(state)).exemplars, { length: 20, memorySize: 20, classHistogram: [5, 5, 5, 5, 0, 0], classesWithMean: [0, 1, 2, 3] });

    await assert.rejects(
      exportModelCommand().parseAsync(["--state", state, "--out", join(dir, "serving")], { from: "user" }),
      (e: unknown) => e instanceof OptionsError && /nearest class mean/.test(e.message) && /relearn predict/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
