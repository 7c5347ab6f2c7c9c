import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { editManifestSealed, type EditableManifest } from "../helpers/state_edits.js";
import { freshStore } from "../helpers/fake_idb.js";
import { StateError } from "../../src/errors.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { ExperienceReplayModelUpdater } from "../../src/updaters/experience_replay.js";
import { FineTuningModelUpdater } from "../../src/updaters/fine_tuning.js";
import { readUpdaterState, STATE_KINDS } from "../../src/updaters/state_kinds.js";
import { UPDATERS, UPDATER_NAMES } from "../../src/updaters/registry.js";
import type { ModelUpdater } from "../../src/updaters/model_updater.js";
import { registryTestOptions } from "../helpers/updater_options.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 6;
const data = splitBlobs({ tasks: 2, samplesPerClass: 50, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [8], classes: 4 });
const base = { batchSize: 16, maxEpochs: 1, seed: 3, backend: "wasm" as const };

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-safety-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `body` on a fresh updater and disposes its model whatever happens; asserts no tensor is left behind. */
async function withUpdater(make: () => ModelUpdater, body: (updater: ModelUpdater) => Promise<void>): Promise<void> {
  const tensors = tf.memory().numTensors;
  const updater = make();
  try {
    await body(updater);
  } finally {
    if (updater.hasModel) updater.model.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked");
}

const rejectsWith = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof StateError, `expected a StateError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

/** An ER state (a memory of 100 items, all of the first chunk) at `dir`. */
async function writeErState(dir: string): Promise<void> {
  await withUpdater(
    () => new ExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 100, outputStateFolder: dir }),
    async (updater) => void (await updater.update(data.train[0]!)),
  );
}

test("a missing input state folder is an error, not a fresh start; so is an empty one; nothing is written", async (t) => {
  const dir = await scratch(t);
  await mkdir(join(dir, "empty"));
  const cases: [string, RegExp][] = [
    [join(dir, "v22"), /input state folder .*v22 does not exist; check the path, or leave out inputStateFolder/],
    [join(dir, "empty"), /empty is an empty folder, not a state folder/],
  ];
  for (const [input, message] of cases) {
    await withUpdater(
      () => new FineTuningModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), inputStateFolder: input, outputStateFolder: join(dir, "out") }),
      (updater) => assert.rejects(updater.update(data.train[1]!), rejectsWith(message)),
    );
    assert.equal(existsSync(join(dir, "out")), false);
  }
});

test("a state in the output folder is never replaced silently: refused unless it is the input or overwriteOutputState", async (t) => {
  const dir = await scratch(t);
  const [v1, v2] = [join(dir, "v1"), join(dir, "v2")];
  const make = (options: object) => () => new FineTuningModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), ...options });
  await withUpdater(make({ outputStateFolder: v1 }), async (u) => void (await u.update(data.train[0]!)));
  await withUpdater(make({ inputStateFolder: v1, outputStateFolder: v2 }), async (u) => void (await u.update(data.train[1]!)));
  const kept = await readFile(join(v2, "manifest.json"));
  // a fresh start onto v2, and a resume from v1 onto v2: both would replace v2
  for (const options of [{ outputStateFolder: v2 }, { inputStateFolder: v1, outputStateFolder: v2 }]) {
    await withUpdater(make(options), (u) =>
      assert.rejects(u.update(data.train[1]!), rejectsWith(/output state folder .*v2 already holds a state.*--input-state .*v2.*overwriteOutputState/s)),
    );
    assert.deepEqual(await readFile(join(v2, "manifest.json")), kept, "v2 untouched");
  }
  // in place is what resuming means; an explicit overwrite is allowed
  await withUpdater(make({ inputStateFolder: v2, outputStateFolder: v2 }), async (u) => void (await u.update(data.train[1]!)));
  assert.equal((await readUpdaterState(v2)).data.updatesDone, 3);
  await withUpdater(make({ outputStateFolder: v2, overwriteOutputState: true }), async (u) => void (await u.update(data.train[1]!)));
  const replaced = await readUpdaterState(v2);
  assert.equal(replaced.data.updatesDone, 1);
  assert.equal("overwriteOutputState" in replaced.data.options, false, "a per-run permission is not stored");
});

/** Edits of an ER state's manifest (written with a matching checksum) and the error resuming or reading it must give. */
const manifestEdits: [string, (m: EditableManifest) => void, RegExp][] = [
  ["an invalid option", (m) => void (m.data.options.batchSize = "abc"), /manifest\.json is not a valid experience-replay state: field "data\.options\.batchSize"/],
  ["an option the updater does not take", (m) => void (m.data.options.learningRate = 0.1), /field "data\.options": Unrecognized key: "learningRate"/],
  ["memorySize that disagrees with the memory", (m) => void (m.data.options.memorySize = 50), /field "data\.options\.memorySize": is 50 but the stored memory .* holds up to 100 items/],
  [
    "a memory capacity below its length",
    (m) => {
      m.data.options.memorySize = 50;
      m.data.algorithm.memory.meta.capacity = 50;
    },
    /manifest\.json: the memory section \(data\.algorithm\.memory\) is inconsistent: replay buffer snapshot: meta\.length 100 exceeds meta\.capacity 50/,
  ],
  ["a negative update count", (m) => void (m.data.updatesDone = -1), /field "data\.updatesDone"/],
  ["validation features of the wrong length", (m) => {
    m.data.validation = [{ taskId: "0", featureShape: [DIMS], numClasses: 4, features: { file: "x.bin", dtype: "float32", length: 5 }, labels: { file: "y.bin", dtype: "int32", length: 2 } }];
  }, /field "data\.validation\.0\.features\.length": is 5 but 2 labels of shape \[6\] need 12/],
];

for (const [name, edit, message] of manifestEdits) {
  test(`a manifest with ${name} is refused on resume and on every read, naming manifest.json`, async (t) => {
    const dir = join(await scratch(t), "s");
    await writeErState(dir);
    await editManifestSealed(dir, edit);
    await withUpdater(
      () => new ExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 100, inputStateFolder: dir }),
      (updater) => assert.rejects(updater.prepare(), rejectsWith(message)),
    );
    if (!/memory section/.test(message.source)) await assert.rejects(readUpdaterState(dir), rejectsWith(message));
  });
}

test("a state of a kind no relearn updater writes is refused by every reader", async (t) => {
  const dir = join(await scratch(t), "s");
  await writeErState(dir);
  await editManifestSealed(dir, (m) => void (m.kind = "other"));
  await assert.rejects(readUpdaterState(dir), rejectsWith(/manifest\.json is a state of kind "other", which no relearn updater writes/));
  await withUpdater(
    () => new ExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 100, inputStateFolder: dir }),
    (updater) => assert.rejects(updater.prepare(), rejectsWith(/is a state of kind "other", but a "experience-replay" state was expected/)),
  );
});

test("the seen counter edited by hand (300 -> 700, no new checksum) is refused, naming manifest.json", async (t) => {
  const dir = join(await scratch(t), "s");
  await writeErState(dir);
  const path = join(dir, "manifest.json");
  const text = await readFile(path, "utf8");
  assert.match(text, /"seen": 100,/);
  await writeFile(path, text.replace(/"seen": 100,/, '"seen": 700,'));
  await withUpdater(
    () => new ExperienceReplayModelUpdater({ ...base, model: buildModel(spec, { seed: 0 }), memorySize: 100, inputStateFolder: dir }),
    (updater) => assert.rejects(updater.prepare(), rejectsWith(/manifest\.json: checksum mismatch: the manifest was modified/)),
  );
});

test("every registered updater's state kind is readable by inspect/evaluate, with that updater's own options schema", () => {
  for (const name of UPDATER_NAMES) {
    const updater = UPDATERS[name].create({ ...base, model: spec, memorySize: 10, ...registryTestOptions(name, "dense_0_relu") });
    const schema = (updater.constructor as typeof ModelUpdater).optionsSchema;
    assert.ok(schema !== undefined, `${name} declares its options schema`);
    assert.equal(STATE_KINDS[updater.kind], schema, `${name} (kind ${updater.kind})`);
  }
});

test("two updaters resuming the same state: the second to finish is refused (compare-and-swap), the first's update is kept", async (t) => {
  const dir = join(await scratch(t), "state");
  await writeErState(dir);
  const resume = () => new ExperienceReplayModelUpdater({ ...base, memorySize: 100, inputStateFolder: dir, outputStateFolder: dir });
  await withUpdater(resume, async (late) => {
    await late.prepare(); // reads the state now, as a second process or tab would
    await withUpdater(resume, async (early) => void (await early.update(data.train[1]!)));
    const written = await readFile(join(dir, "manifest.json"), "utf8");
    await assert.rejects(late.update(data.train[1]!), rejectsWith(/was changed by another writer since this updater read or wrote it.*nothing was written/s));
    assert.equal(await readFile(join(dir, "manifest.json"), "utf8"), written, "the first updater's state is untouched");
    assert.equal((await readUpdaterState(dir)).data.updatesDone, 2);
  });
  // An updater that wrote the state itself continues it update after update.
  await withUpdater(resume, async (updater) => {
    await updater.update(data.train[0]!);
    await updater.update(data.train[1]!);
  });
  assert.equal((await readUpdaterState(dir)).data.updatesDone, 4);
});

test("a store that cannot checksum (a browser page on plain http from another host: no crypto.subtle) fails before training, as a StateError", async () => {
  const { store } = freshStore();
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto")!;
  let batches = 0;
  Object.defineProperty(globalThis, "crypto", { value: {}, configurable: true });
  try {
    await withUpdater(
      () => new ExperienceReplayModelUpdater({
        ...base, model: buildModel(spec, { seed: 0 }), memorySize: 100, stateStore: store, outputStateFolder: "s",
        callbacks: [{ onBatchEnd: () => void batches++ }],
      }),
      async (updater) => {
        await assert.rejects(updater.update(data.train[0]!), rejectsWith(/crypto\.subtle is not available.*serve the page over https or from localhost/));
      },
    );
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
  }
  assert.equal(batches, 0, "no training ran");
  assert.equal(await store.holdsState("s"), false);
});
