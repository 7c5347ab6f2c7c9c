// Exporting a model for serving: a plain tfjs model whose outputs are the logits, or softmax probabilities
// (rows sum to 1 and equal softmax of the logits), for every head; relearn refuses to load a probabilities export.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { buildModel } from "../../src/model/continual_model.js";
import { exportModelToFolder, fileSystemIO, loadModel } from "../../src/model/io.js";
import { mlp } from "../../src/model/spec.js";
import { Random } from "../../src/random.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("cpu");
});

function inputs(rows: number, dims: number, seed: number): tf.Tensor2D {
  const random = Random.fromSeed(seed);
  // Large values too, so the logits span a wide range and softmax saturates for some rows.
  return tf.tensor2d(Array.from({ length: rows * dims }, () => (random.float() - 0.5) * 40), [rows, dims]);
}

test("export with probabilities: outputs sum to 1 and equal softmax of the model's logits, for each head", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-export-"));
  const model = buildModel(mlp({ inputShape: [5], hidden: [7], classes: 4, multiHead: true }), { seed: 3 });
  try {
    model.ensureHead("a");
    model.ensureHead("b");
    const written = await expectNoTensorLeak(() => exportModelToFolder(model, dir, { outputs: "probabilities", classNames: ["w", "x", "y", "z"] }));
    assert.deepEqual(written, { outputs: "probabilities", taskIds: model.taskIds(), classNames: ["w", "x", "y", "z"] });
    const json = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as { userDefinedMetadata: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.userDefinedMetadata), ["relearnExport"]);

    const served = await tfl.loadLayersModel(fileSystemIO(dir));
    const x = inputs(32, 5, 1);
    const outputs = served.predict(x) as tf.Tensor[];
    assert.equal(outputs.length, model.taskIds().length);
    for (const [head, taskId] of model.taskIds().entries()) {
      const probabilities = outputs[head]!;
      assert.deepEqual(probabilities.shape, [32, 4]);
      const values = probabilities.arraySync() as number[][];
      for (const row of values) {
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row sums to ${row.reduce((a, b) => a + b, 0)}`);
        assert.ok(row.every((p) => p >= 0 && p <= 1));
      }
      const expected = tf.tidy(() => tf.softmax(model.getLogits(x, taskId)).arraySync());
      values.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - expected[i]![k]!) < 1e-6, `head ${taskId} row ${i} class ${k}: ${p} vs ${expected[i]![k]}`)));
    }
    tf.dispose([x, ...outputs]);
    served.dispose();
    // Probabilities taken for logits would train or predict wrong: relearn refuses the export.
    await assert.rejects(loadModel(dir), { name: "ModelError", message: /model\.json is a model exported for serving whose outputs are probabilities, not logits/ });
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test("export of logits (the default): outputs equal the model's logits exactly", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-export-"));
  const model = buildModel(mlp({ inputShape: [5], hidden: [7], classes: 3 }), { seed: 4 });
  try {
    assert.equal((await exportModelToFolder(model, dir)).outputs, "logits");
    const served = await tfl.loadLayersModel(fileSystemIO(dir));
    const x = inputs(16, 5, 2);
    const logits = served.predict(x) as tf.Tensor;
    const expected = tf.tidy(() => model.getLogits(x));
    assert.deepEqual(Array.from(logits.dataSync()), Array.from(expected.dataSync()));
    tf.dispose([x, logits, expected]);
    served.dispose();
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test("export refuses an unknown outputs value", async () => {
  const model = buildModel(mlp({ inputShape: [2], hidden: [2], classes: 2 }), { seed: 1 });
  try {
    await assert.rejects(exportModelToFolder(model, "/nonexistent", { outputs: "softmax" as never }), { name: "OptionsError", message: 'outputs must be "logits" or "probabilities", got "softmax"' });
  } finally {
    model.dispose();
  }
});
