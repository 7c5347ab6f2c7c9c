// Every updater of the registry keeps a frozen pre-trained layer bit for bit
// (issue 10, part 2): those that re-initialise a model (RD's expert and
// consolidation, GDumb, joint) as much as those that only train it. A new
// updater added to the registry is covered without touching this file.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { loadModel } from "../../src/model/io.js";
import { UPDATER_NAMES, createUpdater } from "../../src/updaters/registry.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 10;
const data = splitBlobs({ tasks: 2, samplesPerClass: 30, dims: DIMS });

/** input -> frozen "pretrained" Dense -> frozen batch norm -> trainable Dense -> frozen "frozen_mid" Dense -> logits. */
function transferModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 12, activation: "relu", inputShape: [DIMS], name: "pretrained", trainable: false }),
      // Its statistics must not move under training either (tfjs would update them in training mode).
      tfl.layers.batchNormalization({ name: "frozen_bn", trainable: false }),
      tfl.layers.dense({ units: 12, activation: "relu", name: "trained" }),
      tfl.layers.dense({ units: 12, activation: "relu", name: "frozen_mid", trainable: false }),
      tfl.layers.dense({ units: 4, name: "logits" }),
    ],
  });
  // "Pre-trained" values: fixed, and unlike anything an initializer draws.
  model.weights.forEach((w, i) => {
    tf.tidy(() => {
      const values = tf.add(tf.randomNormal(w.shape as number[], 0, 0.3, "float32", 50 + i), 0.01);
      // A variance must stay positive.
      w.write(w.originalName.endsWith("moving_variance") ? tf.add(tf.abs(values), 0.5) : values);
    });
  });
  return model;
}

const frozenValues = (model: tfl.LayersModel) =>
  ["pretrained", "frozen_bn", "frozen_mid"].flatMap((name) => model.getLayer(name).weights.map((w) => Float32Array.from(w.read().dataSync())));

for (const name of UPDATER_NAMES) {
  test(`${name}: frozen layers keep their pre-trained weights bit for bit over two updates and in the saved state`, async () => {
    const layersModel = transferModel();
    const pretrained = frozenValues(layersModel);
    const dir = await mkdtemp(join(tmpdir(), "relearn-frozen-"));
    try {
      const updater = createUpdater(name, {
        model: layersModel,
        memorySize: 40,
        batchSize: 16,
        maxEpochs: 2,
        seed: 1,
        backend: "wasm",
        optimizer: { name: "adam", learningRate: 1e-2 },
        outputStateFolder: join(dir, "state"),
        // rd-budget would otherwise consolidate for ceil(25000 / 40) epochs.
        ...(name === "rd-budget" ? { consolidationEpochs: 2 } : {}),
      } as Parameters<typeof createUpdater>[1]);
      await updater.update(data.train[0]!);
      assert.deepEqual(frozenValues(layersModel), pretrained, "after update 1");
      await expectNoTensorLeak(() => updater.update(data.train[1]!));
      assert.deepEqual(frozenValues(layersModel), pretrained, "after update 2");
      const trained = layersModel.getLayer("trained").weights[0]!;
      assert.equal(trained.trainable, true);

      const saved = await loadModel(join(dir, "state", "model"));
      const { model: savedLayers } = saved.toLayersModel();
      assert.deepEqual(frozenValues(savedLayers), pretrained, "in the saved state");
      assert.equal(savedLayers.getLayer("pretrained").trainable, false, "and still frozen there");
      saved.dispose();
      updater.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
