import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, spec } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { chunkAndMemoryDistillation, RepeatedDistillationModelUpdater, type RepeatedDistillationOptions } from "../../src/updaters/repeated_distillation.js";
import type { BatchTensors } from "../../src/training/batch_tensors.js";
import { OptionsError } from "../../src/errors.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { data } from "./replay_fixtures.js";

before(async () => {
  await useBackend("wasm");
});

test("chunkAndMemoryDistillation: w * mean over chunk rows + (1 - w) * mean over memory rows of the double distillation loss (reference values)", () => {
  const logits = [[1, 2, 0.5], [0, -1, 3], [2, 2, 1]];
  const stored = [[0.5, 1.5, -1], [3, 0, 0], [1, 1, 4]];
  const roles = [0, 0, 1];
  // 0.5 * mean_c (z - (t - mean t))^2 per row, in float64.
  const dd = (z: number[], t: number[]) => {
    const mean = t.reduce((s, v) => s + v, 0) / t.length;
    return (0.5 * z.reduce((s, v, c) => s + (v - (t[c]! - mean)) ** 2, 0)) / z.length;
  };
  const expected = (0.3 * (dd(logits[0]!, stored[0]!) + dd(logits[1]!, stored[1]!))) / 2 + 0.7 * dd(logits[2]!, stored[2]!);
  const before = tf.memory().numTensors;
  const got = tf.tidy(() => {
    const batch = { targets: tf.tensor2d(stored.map((row, i) => [roles[i]!, ...row])) } as unknown as BatchTensors;
    return tf.mean(chunkAndMemoryDistillation(tf.tensor2d(logits), batch, 0.3)).dataSync()[0]!;
  });
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
  const chunkOnly = tf.tidy(() => {
    const batch = { targets: tf.tensor2d([[0, ...stored[0]!]]) } as unknown as BatchTensors;
    return tf.mean(chunkAndMemoryDistillation(tf.tensor2d([logits[0]!]), batch, 0.3)).dataSync()[0]!;
  });
  assert.ok(Math.abs(chunkOnly - dd(logits[0]!, stored[0]!)) < 1e-5, "empty memory: the chunk rows alone");
  tf.tidy(() => {
    assert.throws(() => chunkAndMemoryDistillation(tf.zeros([2, 3]), { targets: tf.zeros([2, 3]) } as unknown as BatchTensors, 0.5), /targets must be \[2, 4\]/);
    assert.throws(() => chunkAndMemoryDistillation(tf.zeros([1, 3]), { targets: tf.zeros([1, 4]) } as unknown as BatchTensors, 1.5), /chunkWeight/);
  });
});

const dmc = (extra: Partial<RepeatedDistillationOptions> = {}) => (o: ModelUpdaterOptions) =>
  new RepeatedDistillationModelUpdater({ ...o, memorySize: 60, consolidationData: "chunk+memory", ...extra });

test('RD consolidationData "chunk+memory" keeps old tasks that fine-tuning forgets; no tensor leaks', async () => {
  await checkBeatsFineTuning(dmc(), { margin: 0.2, minOld: 0.6, minNew: 0.8 });
});

test('RD "chunk+memory" and consolidationStart "previous": state round trip bit-identical', async () => {
  await checkStateRoundTrip(dmc({ consolidationStart: "previous" }), "rd-dmc");
});

test('RD "chunk+memory" on a multi-head model trains each row through its own head; bad values are OptionsErrors', async () => {
  const multi = buildModel(mlp({ inputShape: [10], hidden: [8], classes: 6, multiHead: true }), { seed: 0 });
  const updater = new RepeatedDistillationModelUpdater({ ...base, maxEpochs: 1, model: multi, memorySize: 20, consolidationData: "chunk+memory" });
  await updater.update(data.train[0]!, { taskId: "a" });
  await updater.update(data.train[1]!, { taskId: "b" });
  assert.deepEqual(multi.taskIds(), ["a", "b"]);
  multi.dispose();
  const model = buildModel(spec, { seed: 0 });
  assert.throws(
    () => new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 20, consolidationData: "chunk" as never }),
    (e: unknown) => e instanceof OptionsError && /consolidationData/.test(e.message),
  );
  assert.throws(
    () => new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 20, consolidationStart: "warm" as never }),
    (e: unknown) => e instanceof OptionsError && /consolidationStart/.test(e.message),
  );
  model.dispose();
});
