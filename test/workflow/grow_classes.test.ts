// A user's product catalogue grows: the config's model has 4 classes, update 3's file brings classes 4 and 5.
// Without --grow-classes the update says so (file, classes, outputs, the flag and config key) and writes nothing;
// with it the state's model has 6 outputs, and evaluate reads labels up to 5 from then on.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { useBackend } from "../helpers/backend.js";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { readConfig, writeConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { DataError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const relearn = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });

test("update 3 with new classes: a clear error without --grow-classes; with it the model grows to 6 classes", async () => {
  const dir = await workflowFolder();
  try {
    const base = workflowConfig();
    // ER, which trains on each chunk itself: RD on this toy (memory 40, or even every item in memory) leaves one class
    // at 0 accuracy for some seeds, a new class included, so "the new classes are learned" would test RD's luck.
    // RD's growing is tested in test/updaters/grow_classes.test.ts.
    await writeConfig(join(dir, "relearn.json"), { ...base, updater: "er", model: { ...base.model, classes: 4 } });
    const config = await readConfig(join(dir, "relearn.json"));
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "v1") });
    await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: join(dir, "v1"), outputState: join(dir, "v2") });

    const chunk3 = join(dir, "chunk3.csv");
    await assert.rejects(updateFromConfig({ config, data: { path: chunk3 }, inputState: join(dir, "v2"), outputState: join(dir, "v3") }), (e: Error) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(
        e.message,
        `${chunk3} has classes 4, 5 (first in data row 1), but the model has 4 outputs (classes 0..3): new classes appeared. To let the output layer grow ` +
          `to 6 classes (old classes' weights kept), set the updater option growClasses: true (config "options.growClasses", ` +
          `CLI --grow-classes); or, if the label is a mistake, fix the data`,
      );
      return true;
    });
    await assert.rejects(stat(join(dir, "v3")), "a refused update writes no state");

    const args = ["update", "--config", join(dir, "relearn.json"), "--data", chunk3, "--input-state", join(dir, "v2"), "--output-state", join(dir, "v3")];
    const refused = relearn(args);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /chunk3\.csv has classes 4, 5 \(first in data row 1\), but the model has 4 outputs .*CLI --grow-classes/);
    const grown = relearn([...args, "--grow-classes"]);
    assert.equal(grown.status, 0, grown.stderr);
    assert.match(grown.stdout, /^classes: the output layer grew from 4 to 6 classes \(--grow-classes\)$/m);

    const manifest = JSON.parse(await readFile(join(dir, "v3", "manifest.json"), "utf8")) as {
      data: { model: { numClasses: number; spec: { classes: number } }; options: { growClasses: boolean } };
    };
    assert.equal(manifest.data.model.numClasses, 6);
    assert.equal(manifest.data.model.spec.classes, 6);
    assert.equal(manifest.data.options.growClasses, true);
    // test.csv has labels 0..5: readable against the grown state, all six classes scored.
    const evaluation = await evaluateState({ state: join(dir, "v3"), data: { path: join(dir, "test.csv") } });
    assert.equal(evaluation.confusionMatrix.length, 6);
    assert.ok(evaluation.perClassAccuracy[4]! + evaluation.perClassAccuracy[5]! > 1, `new classes learned: ${evaluation.perClassAccuracy}`);

    // A later update resumes the grown state with the unchanged config (4 classes) and no flag.
    const summary = await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, inputState: join(dir, "v3"), outputState: join(dir, "v4") });
    assert.equal(summary.updatesDone, 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
