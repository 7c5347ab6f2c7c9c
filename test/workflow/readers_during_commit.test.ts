/**
 * Readers and an in-place writer (tester F-N): predict, evaluate and inspect read a state while another process
 * commits new states over it (the two renames of atomic_folder.ts) in a loop. Every read must succeed and see one of
 * the committed states whole: never "changed after the state was read", a missing file, a checksum mismatch or "no
 * state folder there", which would send an operator to restore a backup of a state that is fine.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { useBackend } from "../helpers/backend.js";
import { workflowConfig, workflowFolder } from "../helpers/workflow_files.js";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { inspectState } from "../../src/workflow/inspect_state.js";

before(async () => {
  await useBackend("cpu");
});

test("predict, evaluate and inspect during in-place commits see the old or the new state, never an error", { timeout: 180_000 }, async () => {
  const dir = await workflowFolder(10);
  try {
    const config = parseConfig(workflowConfig({ maxEpochs: 1, backend: "cpu" }), "test config");
    const a = join(dir, "a");
    const b = join(dir, "b");
    await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: a });
    await updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: a, outputState: b });
    const live = join(dir, "live");
    await cp(a, live, { recursive: true });
    const data = { path: join(dir, "test.csv") };
    const expected = await Promise.all([a, b].map((state) => predictState({ state, data })));
    const accuracies = await Promise.all([a, b].map(async (state) => (await evaluateState({ state, data })).accuracy));
    assert.notDeepEqual(expected[0]!.probabilities, expected[1]!.probabilities, "the two states predict differently");

    const writer = spawn(process.execPath, ["--import", "tsx", "test/helpers/commit_loop.ts", live, a, b, "150"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    writer.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    writer.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => writer.once("exit", (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));

    const failures: string[] = [];
    let reads = 0;
    while (running) {
      const round = reads++ % 3;
      try {
        if (round === 0) {
          const got = await predictState({ state: live, data });
          const same = expected.filter((e) => e.probabilities!.every((p, i) => p === got.probabilities![i]) && e.classes.every((c, i) => c === got.classes[i]));
          if (same.length === 0) failures.push("predict: the predictions are those of neither committed state");
        } else if (round === 1) {
          const { accuracy } = await evaluateState({ state: live, data });
          if (!accuracies.includes(accuracy)) failures.push(`evaluate: accuracy ${accuracy} is neither state's (${accuracies.join(", ")})`);
        } else {
          const { updatesDone } = await inspectState(live);
          if (updatesDone !== 1 && updatesDone !== 2) failures.push(`inspect: updatesDone ${updatesDone}`);
        }
      } catch (error) {
        failures.push(`${["predict", "evaluate", "inspect"][round]}: ${String(error)}`);
      }
    }
    assert.equal(await exited, 0, output);
    assert.match(output, /committed 150/);
    assert.ok(reads >= 10, `only ${reads} reads overlapped the commits`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${reads} reads failed`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
