import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { editManifestSealed, type EditableManifest } from "../helpers/state_edits.js";
import { StateError } from "../../src/errors.js";
import { createUpdater } from "../../src/updaters/registry.js";
import { parseConfig } from "../../src/workflow/config.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { updateFromConfig } from "../../src/workflow/update.js";

const config = parseConfig(workflowConfig({ maxEpochs: 1 }));

test("every reader (update, inspect, evaluate, predict, a library updater) runs the same check of the whole state: data settings, memory consistency, updatesDone vs the logs", async (t) => {
  const dir = await workflowFolder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, "good");
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: good });
  const edits: [string, (m: EditableManifest) => void, RegExp][] = [
    ["invalid data settings", (m) => void (m.data.data.header = "maybe"), /the data settings are invalid: field "data\.data\.header"/],
    ["memory seen below its stored length", (m) => void (m.data.algorithm.memory.meta.seen = 1), /memory section \(data\.algorithm\.memory\) is inconsistent/],
    ["memory numClasses below a stored label", (m) => void (m.data.algorithm.memory.meta.numClasses = 1), /memory section \(data\.algorithm\.memory\) is inconsistent/],
    ["updatesDone below the logs", (m) => void (m.data.updatesDone = 0), /field "data\.updatesDone" is 0 but the state's logs hold epochs of update 1/],
  ];
  for (const [name, edit, message] of edits) {
    const state = join(dir, name.replaceAll(" ", "-"));
    await cp(good, state, { recursive: true });
    await editManifestSealed(state, edit);
    const readers: [string, () => Promise<unknown>][] = [
      ["update", () => updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: state, outputState: join(dir, "next") })],
      ["inspect", () => inspectState(state)],
      ["evaluate", () => evaluateState({ state, data: { path: join(dir, "test.csv") } })],
      ["predict", () => predictState({ state, data: { path: join(dir, "test.csv") } })],
      // The library's own updater, given no schema by anyone: it must check the data settings too (second tester).
      ["library updater", () => createUpdater(config.updater, { ...config.options, inputStateFolder: state }).prepare()],
    ];
    for (const [reader, read] of readers) {
      await assert.rejects(read(), (e) => e instanceof StateError && /manifest\.json/.test(e.message) && message.test(e.message), `${name}: ${reader}`);
    }
  }
  // the unedited state passes every reader
  assert.equal((await inspectState(good)).updatesDone, 1);
  assert.equal((await evaluateState({ state: good, data: { path: join(dir, "test.csv") } })).items, 60);
});
