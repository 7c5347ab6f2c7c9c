import { test, before } from "node:test";
import assert from "node:assert/strict";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, storedRowsComeFrom, weightsOf } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import { GDumbModelUpdater } from "../../src/updaters/gdumb.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { OptionsError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const make = (memorySize: number) => (options: ModelUpdaterOptions) => new GDumbModelUpdater({ ...options, memorySize });

test("GDumb's memory stays class-balanced over the classes seen", async () => {
  const updater = new GDumbModelUpdater({ ...base, maxEpochs: 1, model: buildModel(spec, { seed: 0 }), memorySize: 90 });
  const expected = [
    [45, 45, 0, 0, 0, 0],
    // 90 / 4 = 22.5: a class may hold up to 23 items, none fewer than 22.
    null,
    [15, 15, 15, 15, 15, 15],
  ];
  for (let t = 0; t < 3; t++) {
    await updater.update(data.train[t]!);
    const histogram = updater.memory.classHistogram();
    assert.equal(updater.memory.length, 90);
    const seen = histogram.slice(0, 2 * (t + 1));
    assert.ok(Math.max(...seen) - Math.min(...seen) <= 1, `update ${t + 1}: histogram ${histogram} is not balanced`);
    assert.ok(histogram.slice(2 * (t + 1)).every((count) => count === 0));
    if (expected[t]) assert.deepEqual(histogram, expected[t]);
  }
  assert.ok(storedRowsComeFrom(updater.memory, data.train));
  updater.model.dispose();
});

test("GDumb re-initialises the model and trains it on the memory only", async () => {
  const stepsPerEpoch: number[] = [];
  const a = new GDumbModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 50, callbacks: [{ onTrainBegin: (e: TrainingEvent) => void stepsPerEpoch.push(e.stepsPerEpoch) }] });
  const b = new GDumbModelUpdater({ ...base, model: buildModel(spec, { seed: 7 }), memorySize: 50 });
  await a.update(data.train[0]!);
  // b starts from other weights and first trains on another chunk: only the memory decides the result.
  await b.update(data.train[2]!);
  b.memory = ReplayBuffer.fromSnapshot(a.memory.toSnapshot());
  await a.update(data.train[1]!);
  b.updatesDone = a.updatesDone - 1;
  await b.update(data.train[1]!);
  assert.deepEqual(b.memory.toSnapshot(), a.memory.toSnapshot());
  assert.deepEqual(await weightsOf(b.model), await weightsOf(a.model));
  assert.deepEqual(stepsPerEpoch, [Math.ceil(50 / 32), Math.ceil(50 / 32)], "one pass over the 50 memory items per epoch, not over the chunk");
  a.model.dispose();
  b.model.dispose();
});

test("GDumb keeps old tasks that fine-tuning forgets; no tensor leaks from update 2 on", async () => {
  await checkBeatsFineTuning(make(60), { margin: 0.25, minOld: 0.75, minNew: 0.75 });
});

test("GDumb state round trip: resume after update 1 == uninterrupted run", async () => {
  await checkStateRoundTrip(make(70), "gdumb");
});

test("GDumb rejects bad options", () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(() => new GDumbModelUpdater({ ...base, model, memorySize: 0 }), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  assert.throws(
    () => new GDumbModelUpdater({ ...base, model, memorySize: 10, memoryBatchSize: 5 } as never),
    (e: unknown) => e instanceof OptionsError && /memoryBatchSize/.test(e.message),
    "GDumb has no memory batches",
  );
  model.dispose();
});
