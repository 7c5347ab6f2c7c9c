import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec, storedRowsComeFrom, DIMS } from "./replay_fixtures.js";
import { buildModel } from "../../src/model/continual_model.js";
import { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import { Random } from "../../src/random.js";
import { ExperienceReplayModelUpdater } from "../../src/updaters/experience_replay.js";
import { replaySource, StreamTracker } from "../../src/updaters/replay_source.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { OptionsError, StateError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const make = (memorySize: number) => (options: ModelUpdaterOptions) => new ExperienceReplayModelUpdater({ ...options, memorySize });

test("replaySource appends a uniform draw of distinct memory items to the chunk rows, with role targets", () => {
  const chunk = data.train[1]!;
  const memory = new ReplayBuffer({ capacity: 10, seed: 1 });
  const chunkRows = new Int32Array([5, 0, 7]);
  const empty = replaySource({
    chunk, taskId: "t", chunkTransforms: {}, memory, memoryTransforms: {}, memoryBatchSizes: [4], draws: Random.fromSeed(2),
  });
  assert.deepEqual(Array.from(empty.gather(chunkRows, Random.fromSeed(0)).labels), [5, 0, 7].map((i) => chunk.labels[i]!), "empty memory: chunk rows only");

  const old = data.train[0]!;
  memory.add(old, { logits: { values: Float32Array.from({ length: old.length * 2 }, (_, i) => i), rowShape: [2] } });
  const source = replaySource({
    chunk, taskId: "t", chunkTransforms: {}, memory, memoryTransforms: { targetTransform: (label) => label + 4 },
    memoryBatchSizes: [4, 20], draws: Random.fromSeed(2), memoryTargets: { key: "logits", width: 2 },
  });
  assert.equal(source.length, chunk.length);
  assert.equal(source.targetWidth, 3);
  const batch = source.gather(chunkRows, Random.fromSeed(0));
  assert.equal(batch.labels.length, 3 + 4 + 10, "the second memory batch is capped by the memory's 10 items");
  assert.deepEqual(Array.from(batch.features.subarray(0, DIMS)), Array.from(chunk.features.subarray(5 * DIMS, 6 * DIMS)));
  const stored = memory.asDataset();
  const logits = memory.metadataColumn("logits");
  const roles = Array.from({ length: batch.labels.length }, (_, r) => batch.targets![r * 3]!);
  assert.deepEqual(roles, [0, 0, 0, 1, 1, 1, 1, ...new Array<number>(10).fill(2)]);
  const slotsOf = (from: number, to: number) => {
    const slots: number[] = [];
    for (let r = from; r < to; r++) {
      const row = batch.features.subarray(r * DIMS, (r + 1) * DIMS);
      const slot = Array.from({ length: stored.length }, (_, s) => s).find((s) =>
        stored.features.subarray(s * DIMS, (s + 1) * DIMS).every((v, j) => v === row[j]),
      );
      assert.ok(slot !== undefined, `row ${r} is not a memory item`);
      assert.equal(batch.labels[r], stored.labels[slot]! + 4, "memory rows use the memory's target transform");
      assert.deepEqual(Array.from(batch.targets!.subarray(r * 3 + 1, r * 3 + 3)), Array.from(logits.subarray(slot * 2, slot * 2 + 2)));
      slots.push(slot);
    }
    return slots;
  };
  assert.equal(new Set(slotsOf(3, 7)).size, 4, "a memory batch draws distinct items");
  assert.deepEqual(new Set(slotsOf(7, 17)), new Set(Array.from({ length: 10 }, (_, s) => s)));
  // Draws are uniform: over many steps every slot shows up about equally often in a batch of 4 out of 10.
  const counts = new Array<number>(10).fill(0);
  const draws = replaySource({ chunk, taskId: "t", chunkTransforms: {}, memory, memoryTransforms: {}, memoryBatchSizes: [4], draws: Random.fromSeed(9) });
  for (let step = 0; step < 2000; step++) {
    const b = draws.gather(new Int32Array([0]), Random.fromSeed(0));
    for (let r = 1; r < 5; r++) {
      const row = b.features.subarray(r * DIMS, (r + 1) * DIMS);
      counts[Array.from({ length: 10 }, (_, s) => s).find((s) => stored.features[s * DIMS] === row[0])!]!++;
    }
  }
  for (const c of counts) assert.ok(Math.abs(c - 800) < 120, `slot drawn ${c} times, expected about 800`);
});

test("StreamTracker offers each item once, in first-seen order", () => {
  const tracker = new StreamTracker(6);
  assert.deepEqual(Array.from(tracker.take([4, 1])), [4, 1]);
  assert.deepEqual(Array.from(tracker.take([1, 0, 4])), [0]);
  assert.deepEqual(Array.from(tracker.takeRest()), [2, 3, 5]);
  assert.deepEqual(Array.from(tracker.take([2, 3])), []);
});

test("ER fills the reservoir as data streams in: first epoch only, every item offered once", async () => {
  const seenAfterStep: number[][] = [[], [], []];
  const updater = new ExperienceReplayModelUpdater({
    ...base,
    model: buildModel(spec, { seed: 0 }),
    memorySize: 100,
    callbacks: [{ onBatchEnd: (e: TrainingEvent) => void seenAfterStep[e.epoch]!.push(updater.memory.seen) }],
  });
  await updater.update(data.train[0]!);
  // 120 items, batch 32: the memory has seen 32, 64, 96, 120 after the steps of epoch 0, then nothing more.
  assert.deepEqual(seenAfterStep, [[32, 64, 96, 120], [120, 120, 120, 120], [120, 120, 120, 120]]);
  assert.equal(updater.memory.length, 100);
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!]));
  await updater.update(data.train[1]!);
  assert.equal(updater.memory.seen, 240);
  assert.equal(updater.memory.length, 100);
  assert.ok(storedRowsComeFrom(updater.memory, [data.train[0]!, data.train[1]!]));
  const histogram = updater.memory.classHistogram();
  assert.ok(histogram[2]! + histogram[3]! > 20, `the reservoir holds items of the new task: ${histogram}`);
  assert.ok(histogram[0]! + histogram[1]! > 20, `and keeps items of the old one: ${histogram}`);

  // maxEpochs 0 trains nothing, but the chunk still streams into the memory.
  const idle = new ExperienceReplayModelUpdater({ ...base, maxEpochs: 0, model: buildModel(spec, { seed: 0 }), memorySize: 500 });
  await idle.update(data.train[2]!);
  assert.equal(idle.memory.length, 120);
  for (const u of [updater, idle]) u.model.dispose();
});

test("ER keeps old tasks that fine-tuning forgets; no tensor leaks from update 2 on", async () => {
  await checkBeatsFineTuning(make(100), { margin: 0.25, minOld: 0.75, minNew: 0.8 });
});

test("ER state round trip: resume after update 1 == uninterrupted run; a different memorySize is refused", async () => {
  await checkStateRoundTrip(make(70), "er");
  const dir = await mkdtemp(join(tmpdir(), "relearn-er-size-"));
  try {
    const first = new ExperienceReplayModelUpdater({ ...base, maxEpochs: 1, model: buildModel(spec, { seed: 0 }), memorySize: 40, outputStateFolder: dir });
    await first.update(data.train[0]!);
    first.model.dispose();
    const other = new ExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 41, inputStateFolder: dir });
    await assert.rejects(other.prepare(), (e: unknown) => e instanceof StateError && /memorySize is 41/.test(e.message));
    other.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("ER rejects bad options", async () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(() => new ExperienceReplayModelUpdater({ ...base, model, memorySize: 0 }), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  assert.throws(() => new ExperienceReplayModelUpdater({ ...base, model, memorySize: 2.5 }), OptionsError);
  assert.throws(() => new ExperienceReplayModelUpdater({ ...base, model, memorySize: 10, memoryBatchSize: 0 }), /memoryBatchSize/);
  assert.throws(
    () => new ExperienceReplayModelUpdater({ ...base, model, memorySize: 10, memroySize: 5 } as never),
    (e: unknown) => e instanceof OptionsError && /memroySize/.test(e.message),
  );
  assert.throws(() => new ExperienceReplayModelUpdater({ ...base, model } as never), (e: unknown) => e instanceof OptionsError && /memorySize/.test(e.message));
  model.dispose();
});
