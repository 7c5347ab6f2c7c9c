// evaluate and predict on a state: the task id a multi-head model needs is asked for by the flag a user can pass
// (tester H, H9: the library's "call ensureHead first" was the CLI's answer), and a task id a single-head model does
// not need is said to be ignored.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parseConfig } from "../../src/workflow/config.js";
import { updateFromConfig } from "../../src/workflow/update.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import type { Logger } from "../../src/logger.js";
import { useBackend } from "../helpers/backend.js";
import { DIMS, workflowConfig, workflowFolder } from "../helpers/workflow_files.js";

before(async () => {
  await useBackend("wasm");
});

function recorder(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (message: string) => warnings.push(message), info: () => {} } as Logger & { warnings: string[] };
}

test("a multi-head state needs one of its task ids (named in the error); a single-head state ignores one, with a warning", async () => {
  const dir = await workflowFolder(30);
  try {
    const base = workflowConfig({ maxEpochs: 10 });
    const multi = parseConfig({ ...base, updater: "er", model: { type: "mlp", inputShape: [DIMS], hidden: [8], classes: 6, multiHead: true } });
    await updateFromConfig({ config: multi, data: { path: join(dir, "chunk1.csv") }, taskId: "a", outputState: join(dir, "m1") });
    await updateFromConfig({ config: multi, data: { path: join(dir, "chunk2.csv") }, taskId: "b", inputState: join(dir, "m1"), outputState: join(dir, "m2") });
    const data = { path: join(dir, "chunk2.csv") };
    for (const [taskId, message] of [
      [undefined, /m2: the model has a head per task \("a", "b"\) and no --task-id was given: pass --task-id with one of them/],
      ["c", /m2: the model has a head per task \("a", "b"\) and it has no head for task "c": pass --task-id/],
    ] as const) {
      await assert.rejects(evaluateState({ state: join(dir, "m2"), data, ...(taskId === undefined ? {} : { taskId }) }), message);
      await assert.rejects(predictState({ state: join(dir, "m2"), data, ...(taskId === undefined ? {} : { taskId }) }), message);
    }
    const evaluation = await evaluateState({ state: join(dir, "m2"), data, taskId: "b" });
    assert.ok(evaluation.accuracy > 0.5, `task b's head on task b's data: ${evaluation.accuracy}`);
    assert.equal((await predictState({ state: join(dir, "m2"), data, taskId: "a" })).classes.length, evaluation.items);

    const single = parseConfig({ ...base, updater: "er" });
    await updateFromConfig({ config: single, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "s1") });
    const logger = recorder();
    const plain = await evaluateState({ state: join(dir, "s1"), data });
    const withTask = await evaluateState({ state: join(dir, "s1"), data, taskId: "b", logger });
    assert.equal(withTask.accuracy, plain.accuracy);
    assert.equal(logger.warnings.filter((w) => /the model has one head for every task, so --task-id "b" is not needed and is ignored/.test(w)).length, 1, logger.warnings.join("\n"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
