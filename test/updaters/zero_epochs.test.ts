/**
 * `--epochs 0` (maxEpochs 0) on an update: for updaters that train the model they were given, no training and
 * the model kept; for those that start a fresh model in every update (RD's expert and consolidation, GDumb,
 * Joint) it would silently replace a trained model by an untrained one, so they refuse it. Checked over the
 * whole registry (found by a tester: `relearn update --epochs 0` on an RD state gave a random model, exit 0).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { UPDATER_NAMES, createUpdater, updaterEntry } from "../../src/updaters/registry.js";
import { OptionsError } from "../../src/errors.js";
import { registryTestOptions } from "../helpers/updater_options.js";
import { weightsOf } from "./replay_fixtures.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 6;
const data = splitBlobs({ tasks: 2, samplesPerClass: 20, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [8], classes: 4 });
const base = { batchSize: 16, seed: 2, backend: "wasm" as const, optimizer: { name: "adam" as const, learningRate: 1e-2 } };
/** Updaters that train a fresh model in every update, and the option whose 0 they refuse. */
const FRESH_MODEL: Record<string, RegExp> = {
  rd: /maxEpochs is 0, but the expert .* starts from a freshly initialised model/,
  "rd-budget": /maxEpochs is 0, but the expert/,
  gdumb: /maxEpochs is 0, but GDumb/,
  joint: /maxEpochs is 0, but Joint/,
};

for (const name of UPDATER_NAMES) {
  test(`${name} with maxEpochs 0: ${name in FRESH_MODEL ? "refused (it trains a fresh model each update)" : "the model is kept bit for bit"}`, async () => {
    const options = (extra: Record<string, unknown>) => ({ ...base, memorySize: 40, ...registryTestOptions(name, "dense_0_relu"), ...extra });
    const dir = await mkdtemp(join(tmpdir(), "relearn-zero-epochs-"));
    try {
      const state = join(dir, "s");
      const first = createUpdater(name, options({ model: buildModel(spec, { seed: 0 }), maxEpochs: 2, outputStateFolder: state }));
      await first.update(data.train[0]!);
      const trained = await weightsOf(first.model);
      first.dispose();
      if (name in FRESH_MODEL) {
        assert.throws(() => createUpdater(name, options({ maxEpochs: 0, inputStateFolder: state })), (e: Error) => e instanceof OptionsError && FRESH_MODEL[name]!.test(e.message));
        return;
      }
      const idle = createUpdater(name, options({ maxEpochs: 0, inputStateFolder: state }));
      await idle.update(data.train[1]!);
      const after = await weightsOf(idle.model);
      idle.dispose();
      assert.equal(after.length, trained.length);
      after.forEach((w, i) => assert.deepEqual(Array.from(w), Array.from(trained[i]!), `${name}: weight ${i} changed with 0 epochs`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("RD with consolidationEpochs 0 is refused for a fresh consolidation, allowed when it starts from the previous model", () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(
    () => createUpdater("rd", { ...base, model, memorySize: 40, maxEpochs: 1, consolidationEpochs: 0 } as never),
    /consolidationEpochs is 0, but the consolidation \(consolidationStart "fresh"\) starts from a freshly initialised model/,
  );
  createUpdater("rd", { ...base, model, memorySize: 40, maxEpochs: 1, consolidationEpochs: 0, consolidationStart: "previous" } as never).dispose();
  assert.ok(updaterEntry("rd").usesMemory);
});
