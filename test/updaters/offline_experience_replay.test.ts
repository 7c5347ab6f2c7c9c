import { test, before } from "node:test";
import assert from "node:assert/strict";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, storedRowsComeFrom } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { OfflineExperienceReplayModelUpdater } from "../../src/updaters/offline_experience_replay.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { OptionsError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const make = (memorySize: number) => (options: ModelUpdaterOptions) => new OfflineExperienceReplayModelUpdater({ ...options, memorySize });

test("offline ER changes the memory only after training: it holds items of finished updates only", async () => {
  const seenDuringTraining: number[][] = [[], [], []];
  let update = 0;
  const updater = new OfflineExperienceReplayModelUpdater({
    ...base,
    model: buildModel(spec, { seed: 0 }),
    memorySize: 150,
    callbacks: [{ onBatchEnd: (_: TrainingEvent) => void seenDuringTraining[update]!.push(updater.memory.seen) }],
  });
  await updater.update(data.train[0]!);
  // The whole first chunk fits: the memory is chunk 0 itself, in dataset order.
  assert.deepEqual(Array.from(updater.memory.asDataset().labels), Array.from(data.train[0]!.labels));
  assert.deepEqual(Array.from(updater.memory.asDataset().features), Array.from(data.train[0]!.features));
  update = 1;
  await updater.update(data.train[1]!);
  assert.equal(updater.memory.seen, 240);
  assert.equal(updater.memory.length, 150);
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!, data.train[1]!]));
  update = 2;
  await updater.update(data.train[2]!);
  assert.equal(updater.memory.seen, 360, "chunk 3 is offered once training is over");
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!, data.train[1]!, data.train[2]!]));

  assert.deepEqual(seenDuringTraining[0], new Array<number>(12).fill(0), "update 1 trains on the chunk alone");
  assert.deepEqual(seenDuringTraining[1], new Array<number>(12).fill(120), "update 2 sees the memory of update 1, unchanged");
  assert.deepEqual(seenDuringTraining[2], new Array<number>(12).fill(240));
  updater.model.dispose();
});

test("offline ER keeps old tasks that fine-tuning forgets; no tensor leaks from update 2 on", async () => {
  await checkBeatsFineTuning(make(100), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("offline ER state round trip: resume after update 1 == uninterrupted run", async () => {
  await checkStateRoundTrip(make(70), "offline-er");
});

test("offline ER rejects bad options", () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(() => new OfflineExperienceReplayModelUpdater({ ...base, model, memorySize: 0 }), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  assert.throws(() => new OfflineExperienceReplayModelUpdater({ ...base, model, memorySize: -3 }), OptionsError);
  assert.throws(
    () => new OfflineExperienceReplayModelUpdater({ ...base, model, memorySize: 10, bogus: true } as never),
    (e: unknown) => e instanceof OptionsError && /bogus/.test(e.message),
  );
  model.dispose();
});
