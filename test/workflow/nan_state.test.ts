import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder } from "../helpers/workflow_files.js";
import { ModelError } from "../../src/errors.js";
import { readStateFolder } from "../../src/state/read_state.js";
import { writeStateFolder } from "../../src/state/atomic_folder.js";
import { readConfig } from "../../src/workflow/config.js";
import { evaluateState } from "../../src/workflow/evaluate_state.js";
import { predictState } from "../../src/workflow/predict_state.js";
import { updateFromConfig } from "../../src/workflow/update.js";

/**
 * A trained state in `dir/good` and a copy of it at `dir/<name>` whose weights.bin `edit` changed (checksums
 * rewritten valid, as a broken update would have written them).
 */
async function stateWithEditedWeights(dir: string, name: string, edit: (weights: Buffer) => void): Promise<{ config: Awaited<ReturnType<typeof readConfig>>; broken: string }> {
  const config = await readConfig(join(dir, "relearn.json"));
  await updateFromConfig({ config, data: { path: join(dir, "chunk1.csv") }, outputState: join(dir, "good") });
  const good = await readStateFolder(join(dir, "good"));
  assert.ok(good);
  const broken = join(dir, name);
  await writeStateFolder(broken, {
    kind: good.manifest.kind,
    write: async (tmp) => {
      await cp(good.dir, tmp, { recursive: true, filter: (path) => !path.endsWith("manifest.json") });
      const weights = await readFile(join(tmp, "model", "weights.bin"));
      edit(weights);
      await writeFile(join(tmp, "model", "weights.bin"), weights);
      return good.manifest.data;
    },
  });
  return { config, broken };
}

// Issue 10, part 3: a state whose model holds NaN weights (as an update that diverged wrote it before the fix, with
// valid checksums) answered `predict` with class 0 and NaN probabilities. Every reader now calls it corrupt.
test("a state whose model holds NaN weights (checksums valid) is rejected by predict, evaluate and a resumed update, naming weights.bin", async () => {
  const dir = await workflowFolder();
  try {
    const { config, broken } = await stateWithEditedWeights(dir, "broken", (weights) => weights.writeFloatLE(Number.NaN, 8));
    const corrupt = (error: unknown) => {
      assert.ok(error instanceof ModelError, String(error));
      assert.match(error.message, new RegExp(`${join(broken, "model", "weights.bin").replace(/[/\\.]/g, "\\$&")} is corrupt: weight "[^"]+" holds NaN`));
      return true;
    };
    await assert.rejects(predictState({ state: broken, data: { path: join(dir, "test.csv") } }), corrupt);
    await assert.rejects(evaluateState({ state: broken, data: { path: join(dir, "test.csv") } }), corrupt);
    await assert.rejects(
      updateFromConfig({ config, data: { path: join(dir, "chunk2.csv") }, inputState: broken, outputState: join(dir, "next") }),
      corrupt,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Issue 10, part 3 (second round): weights that are finite but so large that the forward pass overflows (what
// a last SGD step at learning rate 1e38 leaves) answered `predict` with NaN probabilities and exit 0.
test("a state whose finite weights make the outputs NaN is refused by predict and evaluate, naming the rows and the likely cause", async () => {
  const dir = await workflowFolder();
  try {
    const { broken: huge } = await stateWithEditedWeights(dir, "huge", (weights) => {
      for (let offset = 0; offset + 4 <= weights.length; offset += 4) weights.writeFloatLE(1e30, offset);
    });
    const overflow = (error: unknown) => {
      assert.ok(error instanceof ModelError, String(error));
      assert.match(error.message, /outputs \(logits\) are NaN or infinite for \d+ of \d+ rows \(rows? \d+.*0-based\): no class can be predicted.*overflows float32/s);
      return true;
    };
    await assert.rejects(predictState({ state: huge, data: { path: join(dir, "test.csv") } }), overflow);
    await assert.rejects(evaluateState({ state: huge, data: { path: join(dir, "test.csv") } }), overflow);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
