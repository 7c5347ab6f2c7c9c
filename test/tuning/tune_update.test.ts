import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig, type RelearnConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { tunedUpdate } from "../../src/tuning/tune_update.js";
import { applyParams } from "../../src/tuning/search_space.js";
import { parseTrialsCsv, TUNING_HISTORY_FILE } from "../../src/tuning/trials_table.js";
import { OptionsError, StateError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

/** RD on Gaussian blobs, mlp:16, 1 epoch, the learning rate searched over two decades. */
function tuningConfig(tuning: Record<string, unknown> = {}): RelearnConfig {
  return parseConfig({ ...workflowConfig({ maxEpochs: 1 }), tuning: { space: { "optimizer.learningRate": { logUniform: [1e-3, 1e-1] } }, trials: 3, seed: 5, ...tuning } });
}

test("update --tune keeps the best trial's state, and the history grows across updates (in place too), starting from the last best", async () => {
  const dir = await workflowFolder(20);
  try {
    const config = tuningConfig();
    const val = { path: join(dir, "test.csv") };
    const first = await expectNoTensorLeak(() => tunedUpdate({ config, data: { path: join(dir, "chunk1.csv") }, val, outputState: join(dir, "v1") }));
    const runs = first.tuning.outcomes;
    assert.equal(runs.length, 3);
    const values = runs.map((o) => o.value!);
    assert.equal(first.tuning.best.value, Math.max(...values));
    assert.equal(new Set(runs.map((o) => o.params["optimizer.learningRate"])).size, 3, "three settings");
    assert.deepEqual(first.tuning.startedFrom, { reason: "the input state has no tuning history" });

    // The kept state is the best trial's: the same update run by hand with the best setting gives the same weights.
    const byHand = parseConfig({ ...config, tuning: undefined, options: applyParams(config.options, first.tuning.best.params) });
    await updateFromConfig({ config: byHand, data: { path: join(dir, "chunk1.csv") }, val, outputState: join(dir, "by-hand") });
    assert.deepEqual(await readFile(join(dir, "v1/model/weights.bin")), await readFile(join(dir, "by-hand/model/weights.bin")));
    assert.equal(first.update.outputState, join(dir, "v1"));
    assert.equal(first.update.phases.at(-1)!.kept["val_accuracy"], first.tuning.best.value);

    const history1 = parseTrialsCsv(await readFile(join(dir, "v1", TUNING_HISTORY_FILE), "utf8"), "v1");
    assert.equal(history1.length, 3);
    assert.deepEqual(history1.map((r) => r["update"]), ["1", "1", "1"]);
    assert.deepEqual(history1.filter((r) => r["chosen"] === "1").map((r) => Number(r["trial"])), [first.tuning.best.trialId]);
    assert.deepEqual(history1.map((r) => Number(r["param:optimizer.learningRate"])), runs.map((o) => o.params["optimizer.learningRate"]));
    // No trial folder is left beside the state.
    assert.deepEqual((await readdir(dir)).filter((name) => name.includes(".tune-")), []);

    // Update 2 from v1: trial 0 is update 1's best setting, the rest drawn; the history keeps both blocks.
    const second = await tunedUpdate({ config, data: { path: join(dir, "chunk2.csv") }, val, inputState: join(dir, "v1"), outputState: join(dir, "v2") });
    assert.ok("params" in second.tuning.startedFrom);
    assert.deepEqual(second.tuning.startedFrom.params, first.tuning.best.params);
    assert.deepEqual(second.tuning.outcomes.find((o) => o.trialId === 0)!.params, first.tuning.best.params);
    assert.equal(second.update.updatesDone, 2);
    const history2 = parseTrialsCsv(await readFile(join(dir, "v2", TUNING_HISTORY_FILE), "utf8"), "v2");
    assert.equal(history2.length, 6);
    assert.deepEqual(history2.map((r) => r["update"]), ["1", "1", "1", "2", "2", "2"]);
    assert.deepEqual(history2.slice(0, 3), history1);

    // In place (input = output), and an output that holds another state is refused before any trial runs.
    const third = await tunedUpdate({ config, trials: 2, data: { path: join(dir, "chunk3.csv") }, val, inputState: join(dir, "v2"), outputState: join(dir, "v2") });
    assert.equal(third.update.updatesDone, 3);
    assert.equal(parseTrialsCsv(await readFile(join(dir, "v2", TUNING_HISTORY_FILE), "utf8"), "v2").length, 8);
    await assert.rejects(
      tunedUpdate({ config, data: { path: join(dir, "chunk2.csv") }, val, inputState: join(dir, "v1"), outputState: join(dir, "by-hand") }),
      (e: Error) => e instanceof StateError && /already holds a state/.test(e.message),
    );
    // An ordinary update carries the history on unchanged.
    await updateFromConfig({ config: byHand, data: { path: join(dir, "chunk1.csv") }, inputState: join(dir, "v2"), outputState: join(dir, "v3") });
    assert.equal(await readFile(join(dir, "v3", TUNING_HISTORY_FILE), "utf8"), await readFile(join(dir, "v2", TUNING_HISTORY_FILE), "utf8"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("update --tune with ASHA: budgets per rung, the kept state from the top rung; no --val is refused; the same seed gives the same trials", async () => {
  const dir = await workflowFolder(12);
  try {
    const config = tuningConfig({ scheduler: "asha", trials: 3, asha: { reductionFactor: 3, minEpochs: 1, maxEpochs: 3 } });
    const val = { path: join(dir, "test.csv") };
    await assert.rejects(tunedUpdate({ config, data: { path: join(dir, "chunk1.csv") }, val: undefined, outputState: join(dir, "x") }), (e: Error) => e instanceof OptionsError && /give --val/.test(e.message));
    const a = await tunedUpdate({ config, data: { path: join(dir, "chunk1.csv") }, val, outputState: join(dir, "a") });
    // 3 settings at 1 epoch, the best of them again at 3 epochs.
    assert.deepEqual(a.tuning.outcomes.map((o) => [o.rung, o.epochs]), [[0, 1], [0, 1], [0, 1], [1, 3]]);
    const top = a.tuning.outcomes[3]!;
    const firstRung = a.tuning.outcomes.slice(0, 3);
    assert.equal(top.trialId, firstRung.sort((x, y) => y.value! - x.value! || x.trialId - y.trialId)[0]!.trialId);
    assert.equal(a.tuning.best, top);
    assert.equal(a.update.phases[0]!.epochsRun, 3);
    const b = await tunedUpdate({ config, data: { path: join(dir, "chunk1.csv") }, val, outputState: join(dir, "b") });
    assert.deepEqual(b.tuning.outcomes.map((o) => [o.trialId, o.rung, o.params, o.value]), a.tuning.outcomes.map((o) => [o.trialId, o.rung, o.params, o.value]));
    assert.deepEqual(await readFile(join(dir, "a/model/weights.bin")), await readFile(join(dir, "b/model/weights.bin")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("update --tune records the config it was given (tuning section included, not the chosen setting); the next tuned and plain updates continue without one", async () => {
  const dir = await workflowFolder(12);
  try {
    const config = tuningConfig({ trials: 2 });
    const val = { path: join(dir, "test.csv") };
    const manifestConfig = async (state: string) => (JSON.parse(await readFile(join(dir, state, "manifest.json"), "utf8")) as { data: { config?: unknown } }).data.config;
    const first = await tunedUpdate({ config, data: { path: join(dir, "chunk1.csv") }, val, outputState: join(dir, "v1") });
    assert.deepEqual(await manifestConfig("v1"), JSON.parse(JSON.stringify(config)), "the config as given, not the trial's (setting applied, no tuning section)");

    // No config: the recorded one, its tuning section included (2 trials), starting from update 1's choice.
    const second = await tunedUpdate({ data: { path: join(dir, "chunk2.csv") }, val, inputState: join(dir, "v1"), outputState: join(dir, "v2") });
    assert.equal(second.tuning.outcomes.length, 2);
    assert.ok("params" in second.tuning.startedFrom);
    assert.deepEqual(second.tuning.startedFrom.params, first.tuning.best.params);
    assert.deepEqual(await manifestConfig("v2"), await manifestConfig("v1"));
    const plain = await updateFromConfig({ data: { path: join(dir, "chunk3.csv") }, inputState: join(dir, "v2"), outputState: join(dir, "v3") });
    assert.equal(plain.updatesDone, 3);
    assert.deepEqual(await manifestConfig("v3"), await manifestConfig("v1"));

    // A config naming another updater is refused before any trial runs.
    await assert.rejects(
      tunedUpdate({ config: parseConfig({ ...config, updater: "er" }), data: { path: join(dir, "chunk3.csv") }, val, inputState: join(dir, "v3"), outputState: join(dir, "v4") }),
      (e: Error) => e instanceof OptionsError && /names updater "er", but the input state .* was made by "rd"/.test(e.message),
    );
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("v4")), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
