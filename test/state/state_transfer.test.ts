// A state carried between hosts: written by an updater in Node (folder), exported, imported into IndexedDB
// (fake-indexeddb), read and continued there by an updater, exported again, and imported back into a folder.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { expectNoTensorLeak, useBackend, valuesOf } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { fileSystemStore } from "../../src/state/fs_store.js";
import { exportState, importState } from "../../src/state/state_export.js";
import type { StateStore } from "../../src/state/store.js";
import { ExperienceReplayModelUpdater } from "../../src/updaters/experience_replay.js";
import { freshStore } from "../helpers/fake_idb.js";

const DIMS = 6;
const data = splitBlobs({ tasks: 2, samplesPerClass: 20, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [8], classes: 4 });
const options = { batchSize: 16, maxEpochs: 2, seed: 5, backend: "wasm" as const, memorySize: 12 };

before(async () => {
  await useBackend("wasm");
});

/** Every file under `root` (relative path -> bytes). */
async function folderBytes(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(root, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return out;
}

/** Resumes an ER updater from `input` in `store`, learns task 1 into `output`, and returns its weights. */
async function continueIn(store: StateStore, input: string, output: string): Promise<Float32Array[]> {
  return expectNoTensorLeak(async () => {
    const updater = new ExperienceReplayModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), stateStore: store, inputStateFolder: input, outputStateFolder: output });
    await updater.update(data.train[1]!, { taskId: "1" });
    const weights = updater.model.snapshotWeights();
    const values = valuesOf(weights);
    for (const tensor of weights) tensor.dispose();
    updater.model.dispose();
    return values;
  });
}

test("a Node state exports, imports into IndexedDB, is read and continued there exactly as in Node, and comes back byte for byte", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-transfer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const folders = fileSystemStore();
  const v1 = join(dir, "v1");
  await expectNoTensorLeak(async () => {
    const updater = new ExperienceReplayModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: v1 });
    await updater.update(data.train[0]!, { taskId: "0" });
    updater.model.dispose();
  });

  const archive = await exportState(folders, v1);
  const { store: browser } = freshStore("transfer");
  const imported = await importState(browser, "rd", archive);
  const inBrowser = await browser.read("rd", { kind: imported.kind });
  assert.ok(inBrowser !== null);
  assert.deepEqual(inBrowser.manifest, (await folders.read(v1))!.manifest);
  assert.deepEqual(await exportState(browser, "rd"), archive, "the IndexedDB copy exports to the same bytes");

  // Back into a folder: identical to the folder the updater wrote, every byte.
  const back = join(dir, "back");
  await importState(folders, back, await exportState(browser, "rd"));
  assert.deepEqual(await folderBytes(back), await folderBytes(v1));

  // The next update, resumed from IndexedDB (in place) and from the folder, gives the same weights and states.
  const fromFolder = await continueIn(folders, v1, join(dir, "v2"));
  const fromBrowser = await continueIn(browser, "rd", "rd");
  assert.deepEqual(fromBrowser, fromFolder);
  const v2 = (await folders.read(join(dir, "v2")))!.manifest;
  assert.deepEqual((await browser.read("rd"))!.manifest, v2);
});
