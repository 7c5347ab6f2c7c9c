import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { useBackend } from "../helpers/backend.js";
import { base, checkBeatsFineTuning, checkStateRoundTrip, data, spec } from "./replay_fixtures.js";
import type { Dataset } from "../../src/data/dataset.js";
import { OptionsError } from "../../src/errors.js";
import { buildModel } from "../../src/model/continual_model.js";
import type { BatchTensors } from "../../src/training/batch_tensors.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import type { BatchLoss } from "../../src/training/loop.js";
import { darkExperienceReplayLoss, DarkExperienceReplayModelUpdater } from "../../src/updaters/dark_experience_replay.js";
import { ExperienceReplayModelUpdater } from "../../src/updaters/experience_replay.js";
import { termRowWeights, type LossNormalization, type LossTerm } from "../../src/updaters/loss_normalization.js";
import { OfflineExperienceReplayModelUpdater } from "../../src/updaters/offline_experience_replay.js";

before(async () => {
  await useBackend("wasm");
});

/** Cross-entropy of one row, in float64. */
function ce(row: readonly number[], label: number): number {
  const max = Math.max(...row);
  const logSum = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
  return logSum - row[label]!;
}

/** mean(termRowWeights(roles) * losses), read back. */
function weightedMean(roles: number[], losses: number[], terms: readonly LossTerm[], normalization: LossNormalization): number {
  return tf.tidy(() => tf.mean(tf.mul(termRowWeights(tf.tensor1d(roles), terms, normalization), tf.tensor1d(losses))).dataSync()[0]!);
}

test("termRowWeights: per-term means, summed with the weights; 'renate' divides by the weights of the terms present", () => {
  const roles = [0, 0, 0, 1, 2, 2];
  const losses = [1, 2, 3, 10, 4, 8];
  const terms = [{ role: 0, weight: 1 }, { role: 1, weight: 0.5 }, { role: 2, weight: 2 }];
  // Means: role 0 -> 2, role 1 -> 10, role 2 -> 6.
  const sum = 1 * 2 + 0.5 * 10 + 2 * 6;
  assert.ok(Math.abs(weightedMean(roles, losses, terms, "paper") - sum) < 1e-5);
  assert.ok(Math.abs(weightedMean(roles, losses, terms, "renate") - sum / 3.5) < 1e-5);
  // No memory rows: the new data alone, divided by its own weight 1 (Renate's empty-memory step).
  assert.ok(Math.abs(weightedMean([0, 0], [1, 3], terms, "renate") - 2) < 1e-6);
  // All weights 0: 0, not 0/0.
  assert.equal(weightedMean([0, 1], [1, 3], [{ role: 0, weight: 0 }, { role: 1, weight: 0 }], "renate"), 0);
  const before = tf.memory().numTensors;
  tf.dispose(termRowWeights(tf.tidy(() => tf.tensor1d([0, 1])), terms, "renate"));
  assert.ok(tf.memory().numTensors <= before + 1, "only the role tensor itself may remain");
});

test("termRowWeights equals sum_k w_k mean_k / N in float64 for any roles, losses and weights (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 500 }).map((l) => l / 100)), { minLength: 1, maxLength: 12 }),
      // Weights in steps of 0.1 (float32 has no denormals worth testing).
      fc.array(fc.integer({ min: 0, max: 30 }).map((w) => w / 10), { minLength: 3, maxLength: 3 }),
      fc.constantFrom<LossNormalization>("paper", "renate"),
      (rows, weights, normalization) => {
        const roles = rows.map(([r]) => r);
        const losses = rows.map(([, l]) => l);
        const terms = weights.map((weight, role) => ({ role, weight }));
        let sum = 0;
        let present = 0;
        for (const { role, weight } of terms) {
          const mine = losses.filter((_, i) => roles[i] === role);
          if (mine.length === 0) continue;
          sum += (weight * mine.reduce((s, l) => s + l, 0)) / mine.length;
          present += weight;
        }
        const expected = normalization === "renate" && present > 0 ? sum / present : sum;
        const got = weightedMean(roles, losses, terms, normalization);
        return Math.abs(got - expected) <= 1e-4 * Math.max(1, Math.abs(expected));
      },
    ),
    { seed: 13, numRuns: 60 },
  );
});

const logits = [[1, 2, 0.5], [0, -1, 3], [2, 2, 1], [0.3, 0.1, -0.2], [1, 0, 0]];
const labels = [1, 2, 0, 2, 0];
const meanCe = (rows: number[]) => rows.reduce((s, r) => s + ce(logits[r]!, labels[r]!), 0) / rows.length;

test("DER++ with lossNormalization 'renate': (CE + alpha MSE + beta CE) / (1 + alpha + beta); Renate's defaults alpha = beta = 1 divide by 3", () => {
  const stored = [0.5, 1.5, -1];
  const targets = [[0, 0, 0, 0], [0, 0, 0, 0], [1, ...stored], [2, 0, 0, 0], [2, 0, 0, 0]];
  const mse = logits[2]!.reduce((s, z, c) => s + (z - stored[c]!) ** 2, 0) / 3;
  const value = (alpha: number, beta: number, rows = 5) =>
    tf.tidy(() =>
      tf
        .mean(
          darkExperienceReplayLoss(tf.tensor2d(logits.slice(0, rows)), tf.tensor1d(labels.slice(0, rows), "int32"), tf.tensor2d(targets.slice(0, rows)), {
            alpha,
            beta,
            lossFn: crossEntropyLoss,
            lossNormalization: "renate",
          }),
        )
        .dataSync()[0]!,
    );
  const renate = (meanCe([0, 1]) + mse + meanCe([3, 4])) / 3;
  assert.ok(Math.abs(value(1, 1) - renate) < 1e-5, `${value(1, 1)} vs ${renate}`);
  const weighted = (meanCe([0, 1]) + 0.3 * mse + 0.7 * meanCe([3, 4])) / 2;
  assert.ok(Math.abs(value(0.3, 0.7) - weighted) < 1e-5);
  assert.ok(Math.abs(value(1, 1, 2) - meanCe([0, 1])) < 1e-5, "empty memory: the new data's CE, undivided (as Renate)");
});

/** ER with its step loss exposed. */
class ProbeER extends ExperienceReplayModelUpdater {
  stepLoss(chunk: Dataset): BatchLoss {
    return this.replayLoss(chunk);
  }
}
class ProbeOfflineER extends OfflineExperienceReplayModelUpdater {
  stepLoss(chunk: Dataset): BatchLoss {
    return this.replayLoss(chunk);
  }
}

function lossOf(loss: BatchLoss, roles: number[]): number {
  return tf.tidy(() => {
    const batch = { labels: tf.tensor1d(labels, "int32"), targets: tf.tensor2d(roles, [roles.length, 1]) } as unknown as BatchTensors;
    return tf.mean(loss(tf.tensor2d(logits), batch, [])).dataSync()[0]!;
  });
}

test("ER 'renate': (CE_new + CE_mem) / 2 whatever the batch sizes; offline ER 'renate': a CE_new + (1 - a) CE_mem with a = |chunk| / (|chunk| + seen)", async () => {
  const model = buildModel(spec, { seed: 0 });
  const roles = [0, 0, 0, 1, 1];
  const er = new ProbeER({ ...base, model, memorySize: 10, lossNormalization: "renate" });
  assert.ok(Math.abs(lossOf(er.stepLoss(data.train[0]!), roles) - (meanCe([0, 1, 2]) + meanCe([3, 4])) / 2) < 1e-5);
  const paper = new ProbeER({ ...base, model, memorySize: 10 });
  assert.equal(paper.lossNormalization, "paper");
  assert.ok(Math.abs(lossOf(paper.stepLoss(data.train[0]!), roles) - meanCe([0, 1, 2, 3, 4])) < 1e-5, "paper: mean over all rows");

  const offline = new ProbeOfflineER({ ...base, maxEpochs: 0, model, memorySize: 10, lossNormalization: "renate" });
  const chunk = data.train[0]!;
  assert.ok(Math.abs(lossOf(offline.stepLoss(chunk), [0, 0, 0, 0, 0]) - meanCe([0, 1, 2, 3, 4])) < 1e-5, "nothing seen yet: the chunk alone");
  await offline.update(chunk);
  const a = chunk.length / (chunk.length + chunk.length);
  assert.ok(Math.abs(lossOf(offline.stepLoss(chunk), roles) - (a * meanCe([0, 1, 2]) + (1 - a) * meanCe([3, 4]))) < 1e-5);
  assert.throws(
    () => new ExperienceReplayModelUpdater({ ...base, model, memorySize: 10, lossNormalization: "mean" as never }),
    (e: unknown) => e instanceof OptionsError && /lossNormalization/.test(e.message),
  );
  assert.throws(
    () => new DarkExperienceReplayModelUpdater({ ...base, model, memorySize: 10, lossNormalization: "Renate" as never }),
    (e: unknown) => e instanceof OptionsError && /lossNormalization/.test(e.message),
  );
  model.dispose();
});

test("ER and DER++ 'renate' keep old tasks that fine-tuning forgets (no leaks) and round-trip their state", async () => {
  await checkBeatsFineTuning((o) => new ExperienceReplayModelUpdater({ ...o, memorySize: 100, lossNormalization: "renate" }), {
    margin: 0.25,
    minOld: 0.75,
    minNew: 0.8,
  });
  await checkStateRoundTrip((o) => new DarkExperienceReplayModelUpdater({ ...o, memorySize: 70, alpha: 1, beta: 1, lossNormalization: "renate" }), "der-renate");
  await checkStateRoundTrip((o) => new OfflineExperienceReplayModelUpdater({ ...o, memorySize: 70, lossNormalization: "renate" }), "offline-er-renate");
});
