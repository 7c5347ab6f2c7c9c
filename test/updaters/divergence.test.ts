// An update whose training goes non-finite (loss, metric or weight) fails
// with a TrainingError naming the phase, epoch and fixes, and writes nothing:
// no state folder, no lock (issue 10, part 3). Every updater of the registry.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import type { Dataset } from "../../src/data/dataset.js";
import { ModelError, TrainingError } from "../../src/errors.js";
import { ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import type { TrainingCallback, TrainingEvent } from "../../src/training/callbacks.js";
import type { ModelUpdater } from "../../src/updaters/model_updater.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";
import { UPDATER_NAMES, createUpdater, type UpdaterName } from "../../src/updaters/registry.js";
import { registryTestOptions } from "../helpers/updater_options.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 6;
const data = splitBlobs({ tasks: 2, samplesPerClass: 20, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [8], classes: 4 });
const scaled = (dataset: Dataset, factor: number): Dataset => ({ ...dataset, features: dataset.features.map((v) => v * factor) });

function make(name: UpdaterName, output: string, extra: Partial<ModelUpdaterOptions> = {}): ModelUpdater {
  return createUpdater(name, {
    model: ContinualModel.build(spec, { seed: 0 }),
    memorySize: 30,
    batchSize: 8,
    maxEpochs: 2,
    seed: 1,
    backend: "wasm",
    optimizer: { name: "adam", learningRate: 1e-2 },
    outputStateFolder: output,
    ...(name === "rd-budget" ? { consolidationEpochs: 2 } : {}),
    ...registryTestOptions(name, "dense_0_relu"),
    ...extra,
  } as Parameters<typeof createUpdater>[1]);
}

/** Runs `body` in a fresh folder; asserts it rejects with `kind` and that nothing is written there. */
async function failsWritingNothing(
  body: (output: string) => Promise<unknown>,
  kind: typeof TrainingError | typeof ModelError,
  message: RegExp,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "relearn-diverge-"));
  try {
    const output = join(dir, "state");
    await assert.rejects(body(output), (error: unknown) => {
      assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
      assert.match((error as Error).message, message);
      return true;
    });
    assert.equal(existsSync(output), false, "no state folder");
    assert.equal(existsSync(`${output}.lock`), false, "no lock left");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A callback that writes NaN into the first weight of `model()` on the named hook of `phase`;
 * with `huge`, that finite value into EVERY weight instead (finite weights whose forward pass overflows).
 */
function poison(model: () => ContinualModel, phase: string, hook: "onEpochBegin" | "onTrainEnd", epoch = 0, huge?: number): TrainingCallback {
  return {
    [hook]: (e: TrainingEvent) => {
      if (e.phase !== phase || (hook === "onEpochBegin" && e.epoch !== epoch)) return;
      const snapshot = model().snapshotWeights();
      const broken = tf.tidy(() =>
        huge === undefined ? [tf.keep(tf.fill(snapshot[0]!.shape, NaN)), ...snapshot.slice(1)] : snapshot.map((w) => tf.keep(tf.fill(w.shape, huge))),
      );
      model().restoreWeights(broken);
      tf.dispose([...snapshot, ...broken]);
    },
  };
}

const FIXES = /Likely fixes: a smaller learning rate.*features scaled.*gradient clipping/s;

for (const name of UPDATER_NAMES) {
  test(`${name}: SGD at 1e10 on features near 1e18 diverges: TrainingError naming phase, epoch and fixes; nothing written, no tensor leaked`, async () => {
    const huge = scaled(data.train[0]!, 1e18);
    await expectNoTensorLeak(async () => {
      let updater: ModelUpdater | undefined;
      await failsWritingNothing(
        (output) => {
          updater = make(name, output, { optimizer: { name: "sgd", learningRate: 1e10 } });
          return updater.update(huge);
        },
        TrainingError,
        new RegExp(`diverged: .*(NaN|Infinity).* in phase "[^"]+" \\(task "default_task"\\), epoch \\d of \\d+, learning rate 10000000000\\. Nothing was saved\\. ${FIXES.source}`, "s"),
      );
      updater!.model.dispose();
    });
  });

  test(`${name}: a model given with a NaN weight is a ModelError before any training; nothing written`, async () => {
    await failsWritingNothing(
      async (output) => {
        const updater = make(name, output);
        await updater.prepare();
        poison(() => updater.model, "any", "onTrainEnd").onTrainEnd!({ phase: "any" } as TrainingEvent);
        return updater.update(data.train[0]!);
      },
      ModelError,
      /the model holds NaN or infinite weights \("dense_0\/kernel"\) before update 1: it cannot be trained/,
    );
  });

  test(`${name}: weights broken after the last logged loss (end of the last phase) fail the update; nothing written`, async () => {
    // Every updater's last phase trains the updater's own model; find its name with a healthy update.
    const dir = await mkdtemp(join(tmpdir(), "relearn-diverge-"));
    const healthy = make(name, join(dir, "ok"));
    await healthy.update(data.train[0]!);
    const lastPhase = healthy.lastUpdatePhases.at(-1)!.phase;
    healthy.model.dispose();
    await rm(dir, { recursive: true, force: true });

    let updater: ModelUpdater | undefined;
    const model = () => updater!.model;
    // Poisoned after the loop's own check: the update's final check must catch it.
    await failsWritingNothing(
      (output) => {
        updater = make(name, output, { callbacks: [poison(model, lastPhase, "onTrainEnd")] });
        return updater.update(data.train[0]!);
      },
      TrainingError,
      new RegExp(`diverged: after update 1 \\(phases: .*${lastPhase.replace("+", "\\+")}\\) weights "dense_0/kernel" are NaN or infinite\\. Nothing was saved`),
    );
    updater!.model.dispose();
    // Poisoned before the last epoch: the loss read at its end is NaN.
    await failsWritingNothing(
      (output) => {
        updater = make(name, output, { callbacks: [poison(model, lastPhase, "onEpochBegin", 1)] });
        return updater.update(data.train[0]!);
      },
      TrainingError,
      new RegExp(`in phase "${lastPhase.replace("+", "\\+")}" \\(task "default_task"\\), epoch 2 of \\d+`),
    );
    updater!.model.dispose();
    // Weights finite (1e30) but the outputs overflow: the update must not ship a model that predicts NaN.
    await expectNoTensorLeak(async () => {
      await failsWritingNothing(
        (output) => {
          updater = make(name, output, { callbacks: [poison(model, lastPhase, "onTrainEnd", 0, 1e30)] });
          return updater.update(data.train[0]!);
        },
        TrainingError,
        /diverged: after update 1 the weights are finite but the model's outputs \(logits\) are NaN or infinite on \d+ of 40 rows of this update's training data checked \(rows? \d+.*Nothing was saved/s,
      );
      updater!.model.dispose();
    });
  });
}

test("rd: a consolidation that goes non-finite fails naming the consolidation phase, after a healthy expert", async () => {
  let updater: ModelUpdater | undefined;
  await failsWritingNothing(
    (output) => {
      updater = make("rd", output, { callbacks: [poison(() => updater!.model, "consolidation", "onEpochBegin", 0)] });
      return updater.update(data.train[0]!);
    },
    TrainingError,
    /train_loss=NaN.* in phase "consolidation" \(task "default_task"\), epoch 1 of 2/,
  );
  assert.deepEqual(updater!.lastUpdatePhases.map((p) => p.phase), ["expert"], "the expert phase ran and was finite");
  updater!.model.dispose();
});

test("validation metrics that go non-finite fail the update: an overflowing validation set, a metric returning NaN", async () => {
  // Finite float32 features whose logits overflow: training is healthy, val_loss is not.
  const overflowing = scaled(data.test[0]!, 3e38);
  await failsWritingNothing(
    (output) => make("fine-tuning", output).update(data.train[0]!, { valDataset: overflowing }),
    TrainingError,
    /^the validation set of task "default_task" gave val_loss=(NaN|Infinity).* in phase "fine-tuning" .*while training values are finite: .*features are far outside the range of the training data.*Nothing was saved/s,
  );
  await failsWritingNothing(
    (output) => make("rd", output, { loggedMetrics: { broken: () => tf.scalar(NaN) } }).update(data.train[0]!),
    TrainingError,
    /diverged: train_broken=NaN in phase "expert" \(task "default_task"\), epoch 1 of 2/,
  );
});

for (const name of ["er", "der++", "rd"] as const) {
  test(`${name}: outputs that overflow only on the memory (an old task's head) fail the update, naming the replay memory`, async () => {
    const multi = mlp({ inputShape: [DIMS], hidden: [8], classes: 4, multiHead: true });
    const dir = await mkdtemp(join(tmpdir(), "relearn-diverge-"));
    try {
      const blowOldHead: TrainingCallback = {
        // At the end of every phase of update 2: the last one leaves it broken, after the loop's own weight check.
        onTrainEnd: () => {
          if (updater.updatesDone !== 1) return;
          // Weights: body, then head "a" (kernel, bias), then head "b": head a's kernel near the float32 limit.
          const snapshot = updater.model.snapshotWeights();
          const broken = tf.tidy(() => snapshot.map((w, i) => (i === snapshot.length - 4 ? tf.keep(tf.fill(w.shape, 3e38)) : tf.keep(w.clone()))));
          updater.model.restoreWeights(broken);
          tf.dispose([...snapshot, ...broken]);
        },
      };
      const updater: ModelUpdater = make(name, join(dir, "state"), { model: ContinualModel.build(multi, { seed: 0 }), callbacks: [blowOldHead] });
      await updater.update(data.train[0]!, { taskId: "a" });
      await assert.rejects(updater.update(data.train[1]!, { taskId: "b" }), (error: unknown) => {
        assert.ok(error instanceof TrainingError, String(error));
        assert.match(error.message, /outputs \(logits\) are NaN or infinite on \d+ of \d+ rows of the replay memory checked/);
        return true;
      });
      updater.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

// The tester's case: one full-batch SGD step at a huge learning rate. The epoch loss was computed before the step
// (finite), the weights after it are finite (~1e37), but the forward pass overflows: the model predicted NaN.
for (const [name, learningRate] of [["fine-tuning", 1e38], ["der++", 1e30]] as const) {
  test(`${name}: one SGD step at ${learningRate} leaves finite weights whose outputs overflow: TrainingError, nothing written`, async () => {
    const blobs = splitBlobs({ tasks: 1, samplesPerClass: 32, dims: 4, seed: 2 });
    let updater: ModelUpdater | undefined;
    await failsWritingNothing(
      (output) => {
        updater = make(name, output, {
          model: ContinualModel.build(mlp({ inputShape: [4], hidden: [8], classes: 2 }), { seed: 0 }),
          batchSize: 64,
          maxEpochs: 1,
          seed: 0,
          optimizer: { name: "sgd", learningRate },
        });
        return updater.update(blobs.train[0]!);
      },
      TrainingError,
      /after update 1 the weights are finite but the model's outputs \(logits\) are NaN or infinite on \d+ of 64 rows of this update's training data/,
    );
    updater!.model.dispose();
  });
}
