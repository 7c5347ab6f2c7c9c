// The update worker's protocol, driven in Node through a MessageChannel: the
// client on one port, serveUpdateWorker on the other. Ports transfer buffers
// exactly as a Worker does, so "the page's arrays are detached" is tested here.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { mlp } from "../../src/model/spec.js";
import { createDataset } from "../../src/data/dataset.js";
import { DataError, OptionsError, StateError } from "../../src/errors.js";
import { serveUpdateWorker, type WorkerScope } from "../../src/browser/update_worker.js";
import { createUpdateWorker, type WorkerLike, type UpdateWorkerConfig } from "../../src/browser/worker_client.js";
import { errorFromMessage, errorToMessage, type ProgressEvent } from "../../src/browser/worker_protocol.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 8;
const spec = mlp({ inputShape: [DIMS], hidden: [16], classes: 4 });
const config: UpdateWorkerConfig = {
  backend: "wasm",
  updater: "rd",
  options: { model: spec, seed: 1, batchSize: 16, maxEpochs: 5, memorySize: 40, optimizer: { name: "adam", learningRate: 1e-2 } },
};

/** A client and a worker side joined by a MessageChannel (what a Worker is, minus the thread). */
function channel(): { page: WorkerLike; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  serveUpdateWorker({ scope: port2 as unknown as WorkerScope });
  port2.start();
  return { page: port1 as unknown as WorkerLike, close: () => { port1.close(); port2.close(); } };
}

test("an update in the worker: the dataset moves (page arrays detached), progress arrives, evaluate answers, no tensor leaks", async () => {
  const data = splitBlobs({ tasks: 2, samplesPerClass: 30, dims: DIMS });
  const { page, close } = channel();
  try {
    const worker = await createUpdateWorker(page, config);
    assert.equal(worker.info.updatesDone, 0);
    assert.equal(worker.info.resumed, false);
    assert.equal(worker.info.backend, "wasm");
    const events: ProgressEvent[] = [];
    worker.onProgress((e) => events.push(e));

    const train = data.train[0]!;
    const featureBytes = train.features.byteLength;
    assert.ok(featureBytes > 0);
    const summary = await worker.update(train);
    assert.equal(train.features.buffer.byteLength, 0, "features were transferred, not copied");
    assert.equal(train.labels.buffer.byteLength, 0, "labels were transferred, not copied");
    assert.equal(summary.updatesDone, 1);
    assert.deepEqual(summary.phases.map((p) => p.phase), ["expert", "consolidation"]);

    const batches = events.filter((e) => e.kind === "batch");
    const epochs = events.filter((e) => e.kind === "epoch");
    assert.ok(batches.length > 0, "batch progress events arrive");
    assert.deepEqual([...new Set(epochs.map((e) => e.phase))], ["expert", "consolidation"]);
    assert.ok(epochs.every((e) => e.update === 1 && Number.isFinite(e.loss) && e.loss! > 0), "epoch events carry the loss");
    assert.ok(batches.every((e) => e.loss === undefined && e.step >= 0 && e.step < e.stepsPerEpoch));

    // Evaluation keeps the page's data with transfer: false; two rounds leave the tensor count as it was.
    const test0 = data.test[0]!;
    const first = await worker.evaluate([{ dataset: test0 }], { transfer: false });
    const tensors = tf.memory().numTensors;
    const again = await worker.evaluate([{ dataset: test0 }, { dataset: data.test[1]! }], { transfer: false });
    assert.equal(tf.memory().numTensors, tensors, "evaluate leaks no tensor");
    assert.equal(test0.features.length, test0.length * DIMS, "transfer: false leaves the page's arrays");
    assert.equal(again[0]!.accuracy, first[0]!.accuracy);
    assert.ok(first[0]!.accuracy > 0.8, `task 0 accuracy ${first[0]!.accuracy}`);
    assert.ok(again[1]!.accuracy < 0.5, "task 1 was not learned yet");

    // The same arrays cannot be sent twice: they are gone.
    await assert.rejects(worker.update(train), (e: unknown) => e instanceof DataError && /detached/.test(e.message));

    // A view into a larger buffer is copied, not moved: the rest of the buffer stays the page's.
    const whole = new Float32Array(data.train[1]!.features.length + 10).fill(7);
    whole.set(data.train[1]!.features, 10);
    const view = createDataset({ ...data.train[1]!, labels: data.train[1]!.labels.slice(), features: whole.subarray(10) });
    await worker.evaluate([{ dataset: view }]);
    assert.equal(whole.length, data.train[1]!.features.length + 10, "the larger buffer was not moved");
    assert.equal(whole[0], 7);

    const tensorsBefore = tf.memory().numTensors;
    await worker.update(data.train[1]!);
    assert.equal(tf.memory().numTensors, tensorsBefore, "a second update leaks no tensor");
    worker.terminate();
    await assert.rejects(worker.evaluate([{ dataset: data.test[0]! }]), /terminated/);
  } finally {
    close();
  }
});

test("worker errors reach the page as relearn's classes, naming the fix", async () => {
  const { page, close } = channel();
  try {
    await assert.rejects(createUpdateWorker(page, { ...config, updater: "nope" }), (e: unknown) => e instanceof OptionsError && /unknown updater "nope"/.test(e.message));
  } finally {
    close();
  }
  const third = channel();
  try {
    const worker = await createUpdateWorker(third.page, config);
    const wrong = createDataset({ features: new Float32Array(3 * 5), labels: [0, 1, 2, 3, 0], featureShape: [3], numClasses: 4 });
    await assert.rejects(worker.update(wrong), (e: unknown) => e instanceof DataError && /shape \[3\] but the model takes \[8\]/.test(e.message));
    await assert.rejects(worker.exportState(), (e: unknown) => e instanceof StateError && /nothing to export/.test(e.message));
    worker.terminate();
  } finally {
    third.close();
  }
});

test("a worker with a stateName stores every update and a new worker resumes from it; a damaged state is a StateError on the page", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-worker-"));
  const data = splitBlobs({ tasks: 2, samplesPerClass: 30, dims: DIMS });
  try {
    const stateName = join(dir, "state"); // in Node the host's store is the file system: a state name is a folder
    const first = channel();
    let accuracy: number;
    try {
      const worker = await createUpdateWorker(first.page, { ...config, stateName });
      assert.equal(worker.info.resumed, false);
      const summary = await worker.update(data.train[0]!);
      assert.equal(summary.stateName, stateName);
      accuracy = (await worker.evaluate([{ dataset: data.test[0]! }], { transfer: false }))[0]!.accuracy;
      const exported = await worker.exportState();
      assert.equal(exported.fileName, "state.relearn.zip");
      assert.deepEqual([...exported.bytes.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], "a zip archive");
      worker.terminate();
    } finally {
      first.close();
    }
    const second = channel();
    try {
      const worker = await createUpdateWorker(second.page, { ...config, stateName });
      assert.equal(worker.info.resumed, true);
      assert.equal(worker.info.updatesDone, 1);
      const again = (await worker.evaluate([{ dataset: data.test[0]! }], { transfer: false }))[0]!.accuracy;
      assert.equal(again, accuracy, "the resumed model is the stored one");
      worker.terminate();
    } finally {
      second.close();
    }
    await writeFile(join(stateName, "model", "weights.bin"), new Uint8Array(16));
    const third = channel();
    try {
      await assert.rejects(createUpdateWorker(third.page, { ...config, stateName }), (e: unknown) => e instanceof StateError && /weights\.bin/.test(e.message));
    } finally {
      third.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("errors keep their relearn class and name across the message boundary", () => {
  const back = errorFromMessage(structuredClone(errorToMessage(new StateError("state x is damaged"))));
  assert.ok(back instanceof StateError);
  assert.equal(back.name, "StateError");
  assert.equal(back.message, "state x is damaged");
  // A minifier renames classes: errors spell their names out (errors.ts), and the class is found by instanceof anyway.
  const Minified = class wt extends StateError {};
  assert.equal(new Minified("x").name, "StateError");
  assert.equal(errorToMessage(new Minified("x")).name, "StateError");
  const other = errorFromMessage(errorToMessage(new TypeError("bad")));
  assert.equal(other.name, "TypeError");
  assert.equal(errorFromMessage(errorToMessage("plain string")).message, "plain string");
});
