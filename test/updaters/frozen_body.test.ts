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
import { registryTestOptions } from "../helpers/updater_options.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 10;
// iCaRL refuses a tfjs LayersModel given whole (it has no penultimate layer to read); icarl.test.ts freezes a spec model.
const LAYERS_MODEL_UPDATERS = UPDATER_NAMES.filter((name) => name !== "icarl");
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

for (const name of LAYERS_MODEL_UPDATERS) {
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
        ...registryTestOptions(name, "trained"),
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

/**
 * input -> nested Sequential "body" (Dense "b1", batch norm "bn") -> Dense head.
 * `nested`: the whole nested model is frozen; `weight`: only b1's kernel and bn's gamma are.
 * tfjs saves neither flag in model.json, so the state must record them itself.
 */
function nestedFreezeModel(how: "nested" | "weight"): { model: tfl.LayersModel; frozen: string[] } {
  const body = tfl.sequential({
    name: "body",
    layers: [tfl.layers.dense({ inputShape: [DIMS], units: 6, name: "b1" }), tfl.layers.batchNormalization({ name: "bn" })],
  });
  const input = tfl.input({ shape: [DIMS] });
  const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 4, name: "out" }).apply(body.apply(input)) as tfl.SymbolicTensor });
  // Flags set after the outer model is built: building a container resets its layers' weight flags.
  if (how === "nested") body.trainable = false;
  else for (const w of body.weights) if (w.originalName === "b1/kernel" || w.originalName === "bn/gamma") w.trainable = false;
  const frozen = how === "nested" ? body.weights.map((w) => w.originalName) : ["b1/kernel", "bn/gamma"];
  return { model, frozen };
}

const valuesOf = (model: tfl.LayersModel, names: readonly string[]) =>
  names.map((name) => Float32Array.from(model.weights.find((w) => w.originalName === name)!.read().dataSync()));

for (const name of LAYERS_MODEL_UPDATERS) {
  for (const how of ["nested", "weight"] as const) {
    test(`${name}: a ${how === "nested" ? "frozen nested model" : "weight frozen on its own"} stays bit for bit over resumes from states given no model`, async () => {
      const { model, frozen } = nestedFreezeModel(how);
      const pretrained = valuesOf(model, frozen);
      const dir = await mkdtemp(join(tmpdir(), "relearn-frozen-resume-"));
      const options = {
        memorySize: 40,
        batchSize: 16,
        maxEpochs: 1,
        seed: 1,
        backend: "wasm",
        optimizer: { name: "sgd", learningRate: 0.1 },
        ...(name === "rd-budget" ? { consolidationEpochs: 1 } : {}),
        ...registryTestOptions(name, "body"),
      } as Parameters<typeof createUpdater>[1];
      try {
        const first = createUpdater(name, { ...options, model, outputStateFolder: join(dir, "1") });
        await first.update(data.train[0]!);
        first.model.dispose();
        for (const [from, to] of [["1", "2"], ["2", "3"]] as const) {
          const resumed = createUpdater(name, { ...options, inputStateFolder: join(dir, from), outputStateFolder: join(dir, to) });
          await resumed.prepare();
          await expectNoTensorLeak(() => resumed.update(data.train[to === "2" ? 1 : 0]!));
          resumed.model.dispose();
        }
        const saved = await loadModel(join(dir, "3", "model"));
        const { model: savedLayers } = saved.toLayersModel();
        assert.deepEqual(valuesOf(savedLayers, frozen), pretrained, "after two resumes");
        assert.deepEqual(saved.frozenWeightNames().sort(), [...frozen].sort(), "and still frozen when loaded");
        saved.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test("resuming with a model given: its own freeze flags win (a warning when they differ from the state's) and every weight lands in its place", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-frozen-given-"));
  const options = { batchSize: 16, maxEpochs: 1, seed: 1, backend: "wasm", optimizer: { name: "sgd", learningRate: 0.1 } } as Parameters<typeof createUpdater>[1];
  try {
    const { model: first, frozen } = nestedFreezeModel("nested");
    const writer = createUpdater("fine-tuning", { ...options, model: first, outputStateFolder: join(dir, "1") });
    await writer.update(data.train[0]!);
    const stateValues = valuesOf(first, first.weights.map((w) => w.originalName));
    const names = first.weights.map((w) => w.originalName);
    writer.model.dispose();

    for (const how of ["same", "unfrozen"] as const) {
      // Built again by the user in a later run: same names, fresh values, frozen as before or not at all.
      const { model: given } = nestedFreezeModel("nested");
      if (how === "unfrozen") (given.getLayer("body") as tfl.LayersModel).trainable = true;
      const warnings: string[] = [];
      const resumed = createUpdater("fine-tuning", {
        ...options,
        model: given,
        inputStateFolder: join(dir, "1"),
        logger: { info: () => {}, warn: (message: string) => warnings.push(message) },
      });
      await resumed.prepare();
      assert.deepEqual(valuesOf(given, names), stateValues, `${how}: the state's values, each in its own weight`);
      assert.deepEqual(resumed.model.frozenWeightNames().sort(), how === "same" ? [...frozen].sort() : [], `${how}: the given model's flags`);
      assert.equal(warnings.some((w) => /freezes other weights than .* the model given decides what trains/.test(w)), how === "unfrozen", `${how}: warning`);
      resumed.model.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
