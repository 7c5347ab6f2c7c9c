import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, storedRowsComeFrom, weightsOf } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { ErAceModelUpdater, asymmetricCrossEntropyLoss } from "../../src/updaters/er_ace.js";
import { ExperienceReplayModelUpdater } from "../../src/updaters/experience_replay.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { OptionsError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const make = (memorySize: number) => (options: ModelUpdaterOptions) => new ErAceModelUpdater({ ...options, memorySize });

/** Cross-entropy of one row over the classes `over`, in float64. */
function ce(row: readonly number[], label: number, over: readonly number[] = row.map((_, c) => c)): number {
  const kept = over.map((c) => row[c]!);
  const max = Math.max(...kept);
  return max + Math.log(kept.reduce((s, z) => s + Math.exp(z - max), 0)) - row[label]!;
}

test("asymmetricCrossEntropyLoss: new rows' CE over the batch's classes only, memory rows' over all (reference values)", async () => {
  const logits = [[1, 2, 0.5, 4], [0, -1, 3, 2], [2, 2, 1, -3], [0.3, 0.1, -0.2, 5], [1, 0, 0, 2]];
  const labels = [1, 2, 1, 3, 0];
  const expected = [ce(logits[0]!, 1, [1, 2]), ce(logits[1]!, 2, [1, 2]), ce(logits[2]!, 1, [1, 2]), ce(logits[3]!, 3), ce(logits[4]!, 0)];
  const z = tf.tensor2d(logits);
  const y = tf.tensor1d(labels, "int32");
  await expectNoTensorLeak(() => {
    const perRow = asymmetricCrossEntropyLoss(z, y, { chunkRows: 3, chunkClasses: [1, 2], lossFn: crossEntropyLoss });
    const values = Array.from(perRow.dataSync());
    perRow.dispose();
    values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `row ${i}: ${v} vs ${expected[i]}`));
    tf.tidy(() => {
      assert.throws(() => asymmetricCrossEntropyLoss(z, y, { chunkRows: 3, chunkClasses: [4], lossFn: crossEntropyLoss }), /class 4 is outside \[0, 4\)/);
      assert.throws(() => asymmetricCrossEntropyLoss(z, y, { chunkRows: 9, chunkClasses: [1], lossFn: crossEntropyLoss }), /chunkRows 9/);
    });
  });
  tf.dispose([z, y]);
});

test("property: with every class in the batch ER-ACE's loss is ER's, bit for bit; masked logits of new rows get no gradient", () => {
  const row = fc.array(fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 });
  fc.assert(
    fc.property(fc.array(fc.tuple(row, fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 8 }), fc.nat(), (rows, cut) => {
      const chunkRows = 1 + (cut % rows.length);
      tf.tidy(() => {
        const logits = tf.tensor2d(rows.map(([r]) => r));
        const labels = tf.tensor1d(rows.map(([, l]) => l), "int32");
        const all = asymmetricCrossEntropyLoss(logits, labels, { chunkRows, chunkClasses: [0, 1, 2, 3], lossFn: crossEntropyLoss });
        assert.deepEqual(Array.from(all.dataSync()), Array.from(crossEntropyLoss(logits, labels).dataSync()));
        const chunkClasses = [...new Set(rows.slice(0, chunkRows).map(([, l]) => l))];
        const grad = tf.grad((z: tf.Tensor) => tf.sum(asymmetricCrossEntropyLoss(z as tf.Tensor2D, labels, { chunkRows, chunkClasses, lossFn: crossEntropyLoss })))(logits);
        const g = grad.arraySync() as number[][];
        for (let r = 0; r < chunkRows; r++) for (let c = 0; c < 4; c++) if (!chunkClasses.includes(c)) assert.equal(g[r]![c], 0, `row ${r} class ${c}`);
      });
    }),
    { numRuns: 50 },
  );
});

test("ER-ACE: the first update (empty memory) is ER's bit for bit; later updates mask, so they differ", async () => {
  const options = { ...base, memorySize: 60 };
  const ace = new ErAceModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }) });
  // ER under ER-ACE's name: the phase name seeds the shuffles, so only the loss differs.
  class SameSeedsEr extends ExperienceReplayModelUpdater {
    override readonly kind: string = "er-ace";
  }
  const er = new SameSeedsEr({ ...options, model: buildModel(spec, { seed: 0 }) });
  await ace.update(data.train[0]!);
  await er.update(data.train[0]!);
  assert.deepEqual(await weightsOf(ace.model), await weightsOf(er.model));
  assert.deepEqual(ace.memory.toSnapshot(), er.memory.toSnapshot(), "the memory fills as data streams in, as ER's");
  await ace.update(data.train[1]!);
  await er.update(data.train[1]!);
  assert.notDeepEqual(await weightsOf(ace.model), await weightsOf(er.model));
  assert.ok(storedRowsComeFrom(ace.memory, [data.train[0]!, data.train[1]!]));
  ace.model.dispose();
  er.model.dispose();
});

test("ER-ACE keeps old tasks that fine-tuning forgets; no tensor leaks", async () => {
  await checkBeatsFineTuning(make(100), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("ER-ACE state round trip: resume after update 1 == uninterrupted run", async () => {
  await checkStateRoundTrip(make(70), "er-ace");
});

test("ER-ACE: train loss stays finite with maskUnusedClasses (both masks together)", async () => {
  const losses: number[] = [];
  const updater = new ErAceModelUpdater({
    ...base,
    maxEpochs: 2,
    maskUnusedClasses: true,
    model: buildModel(spec, { seed: 0 }),
    memorySize: 60,
    callbacks: [{ onEpochEnd: (e: TrainingEvent) => void losses.push(e.logs["train_loss"]!) }],
  });
  for (const t of [0, 1]) await updater.update(data.train[t]!);
  assert.ok(losses.length === 4 && losses.every((l) => Number.isFinite(l) && l < 10), `train losses ${losses}`);
  updater.model.dispose();
});

test("ER-ACE options: ER's, validated", () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new ErAceModelUpdater({ ...base, model, memorySize: 10 });
  assert.deepEqual([updater.kind, updater.memoryBatchSize, updater.memorySize], ["er-ace", 32, 10]);
  assert.throws(() => new ErAceModelUpdater({ ...base, model, memorySize: -1 }), (e: unknown) => e instanceof OptionsError && /ErAceModelUpdater/.test(e.message) && /memorySize/.test(e.message));
  assert.throws(() => new ErAceModelUpdater({ ...base, model, memorySize: 10, memoryBatchSize: 0 }), (e: unknown) => e instanceof OptionsError && /memoryBatchSize/.test(e.message));
  assert.throws(() => new ErAceModelUpdater({ ...base, model, memorySize: 10, alpha: 1 } as never), (e: unknown) => e instanceof OptionsError && /alpha/.test(e.message));
  model.dispose();
});
