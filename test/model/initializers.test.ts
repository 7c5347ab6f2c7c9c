import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { buildModel, type ContinualModel } from "../../src/model/continual_model.js";
import { loadModel, saveModel } from "../../src/model/io.js";
import { cnn, mlp, parseModelSpec } from "../../src/model/spec.js";
import { OptionsError } from "../../src/errors.js";
import { useBackend } from "../helpers/backend.js";

let scratch = "";
before(async () => {
  await useBackend("wasm");
  scratch = mkdtempSync(join(tmpdir(), "relearn-init-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface NamedValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Every weight of the model (body then heads), by name, read back. */
function weightsOf(model: ContinualModel): NamedValues[] {
  const snapshot = model.snapshotWeights();
  const out = snapshot.map((t, i) => ({ name: String(i), shape: t.shape, values: Float32Array.from(t.dataSync()) }));
  tf.dispose(snapshot);
  return out;
}

/** Kernels (rank >= 2) with their fan_in (product of all axes but the last), each followed by its bias. */
function kernelsAndBiases(model: ContinualModel): { fanIn: number; kernel: Float32Array; bias: Float32Array }[] {
  const weights = weightsOf(model);
  const out: { fanIn: number; kernel: Float32Array; bias: Float32Array }[] = [];
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w.shape.length < 2) continue;
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    out.push({ fanIn, kernel: w.values, bias: weights[i + 1]!.values });
  }
  return out;
}

const maxAbs = (values: Float32Array) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const meanSquare = (values: Float32Array) => values.reduce((s, v) => s + v * v, 0) / values.length;

test('initializer "pytorch": every kernel and bias in U(+-1/sqrt(fan_in)), kernel variance 1/(3 fan_in) (property over MLP shapes and seeds)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 20, max: 60 }),
      fc.array(fc.integer({ min: 40, max: 80 }), { minLength: 1, maxLength: 2 }),
      fc.integer({ min: 30, max: 50 }),
      fc.integer({ min: 0, max: 1000 }),
      (inputs, hidden, classes, seed) => {
        const model = buildModel(mlp({ inputShape: [inputs], hidden, classes, initializer: "pytorch" }), { seed });
        const layers = kernelsAndBiases(model);
        model.dispose();
        assert.equal(layers.length, hidden.length + 1);
        for (const { fanIn, kernel, bias } of layers) {
          const bound = 1 / Math.sqrt(fanIn);
          assert.ok(maxAbs(kernel) <= bound * (1 + 1e-6), `kernel exceeds 1/sqrt(${fanIn})`);
          assert.ok(maxAbs(bias) <= bound * (1 + 1e-6), `bias exceeds 1/sqrt(${fanIn})`);
          assert.ok(maxAbs(bias) > bound / 4, "biases are drawn, not zero");
          // Uniform on [-b, b]: variance b^2/3; the sample variance's relative sd is sqrt(0.8 / n) (< 4.5% here).
          const ratio = meanSquare(kernel) / (bound * bound / 3);
          assert.ok(Math.abs(ratio - 1) < 0.2, `kernel variance is ${ratio.toFixed(3)} x 1/(3 fan_in)`);
        }
      },
    ),
    { seed: 7, numRuns: 12 },
  );
});

test('"pytorch" on a cnn: a conv kernel\'s fan_in is in_channels * k * k; the default keeps tfjs Glorot-normal kernels, "glorot-uniform" the Keras one; biases zero', () => {
  const shape = { inputShape: [8, 8, 3] as [number, number, number], conv: [{ filters: 40, kernelSize: 3 }], dense: [50], classes: 40 };
  const model = buildModel(cnn({ ...shape, initializer: "pytorch" }), { seed: 1 });
  const [conv, dense] = kernelsAndBiases(model);
  assert.equal(conv!.fanIn, 27);
  assert.ok(maxAbs(conv!.kernel) <= 1 / Math.sqrt(27) + 1e-7 && maxAbs(conv!.kernel) > 0.8 / Math.sqrt(27));
  assert.ok(maxAbs(conv!.bias) <= 1 / Math.sqrt(27) + 1e-7 && maxAbs(conv!.bias) > 0);
  assert.equal(dense!.fanIn, 8 * 8 * 40);
  model.dispose();

  for (const initializer of [undefined, "glorot-normal", "glorot-uniform"] as const) {
    const glorot = buildModel(mlp({ inputShape: [30], hidden: [50], classes: 40, ...(initializer ? { initializer } : {}) }), { seed: 1 });
    for (const { fanIn, kernel, bias } of kernelsAndBiases(glorot)) {
      const fanOut = bias.length;
      const variance = 2 / (fanIn + fanOut);
      const uniform = initializer === "glorot-uniform";
      // tfjs truncates a normal of sd sqrt(variance) at 2 sd without rescaling, which keeps 0.774 of the variance.
      const expected = uniform ? 1 : 0.7737;
      const ratio = meanSquare(kernel) / variance;
      assert.ok(Math.abs(ratio - expected) < 0.15, `${initializer}: kernel variance ${ratio.toFixed(3)} x 2/(fan_in + fan_out)`);
      const bound = uniform ? Math.sqrt(3 * variance) : 2 * Math.sqrt(variance);
      assert.ok(maxAbs(kernel) <= bound * (1 + 1e-6) && maxAbs(kernel) > 0.8 * bound, `${initializer}: kernel bound`);
      assert.equal(maxAbs(bias), 0);
    }
    glorot.dispose();
  }
});

test('reinitialize, cloneFresh, new heads and grown classes keep "pytorch"; same seed, same weights', () => {
  const spec = mlp({ inputShape: [30], hidden: [60], classes: 40, initializer: "pytorch", multiHead: true });
  const model = buildModel(spec, { seed: 2 });
  model.ensureHead("a");
  const check = (m: ContinualModel) => {
    const layers = kernelsAndBiases(m);
    assert.ok(layers.length >= 2);
    for (const { fanIn, kernel, bias } of layers) {
      assert.ok(maxAbs(kernel) <= 1 / Math.sqrt(fanIn) + 1e-7 && maxAbs(kernel) > 0.8 / Math.sqrt(fanIn));
      assert.ok(maxAbs(bias) <= 1 / Math.sqrt(fanIn) + 1e-7 && maxAbs(bias) > 0, "bias drawn");
    }
  };
  check(model);
  model.reinitialize(9);
  check(model);
  const again = weightsOf(model);
  model.reinitialize(9);
  assert.deepEqual(weightsOf(model), again, "seeded: same seed, same weights");
  const clone = model.cloneFresh(9);
  assert.equal(clone.spec?.initializer, "pytorch");
  check(clone);
  assert.deepEqual(weightsOf(clone), again, "cloneFresh(seed) == reinitialize(seed)");
  clone.ensureHead("b");
  check(clone);
  clone.growClasses(45);
  check(clone);
  model.dispose();
  clone.dispose();
});

test('a saved "pytorch" model loads with its initializer, and re-initialises like the original', async () => {
  const model = buildModel(mlp({ inputShape: [12], hidden: [20], classes: 5, initializer: "pytorch" }), { seed: 4 });
  const dir = join(scratch, "m");
  await saveModel(model, dir);
  const loaded = await loadModel(dir);
  assert.equal(loaded.spec?.initializer, "pytorch");
  model.reinitialize(3);
  loaded.reinitialize(3);
  assert.deepEqual(weightsOf(loaded), weightsOf(model));
  model.dispose();
  loaded.dispose();
});

test("an unknown initializer is an OptionsError naming the option and the known values", () => {
  assert.throws(
    () => parseModelSpec({ type: "mlp", inputShape: [3], hidden: [], classes: 2, initializer: "he" }),
    (e: unknown) => e instanceof OptionsError && /initializer/.test(e.message) && /"pytorch"/.test(e.message),
  );
});

test("--initializer sets the spec's initializer on a short --model; a bad name is an OptionsError listing the known ones", async () => {
  const { resolveModelFlag } = await import("../../src/cli/model_flag.js");
  const shape = { inputShape: [784], classes: 10 };
  assert.equal((await resolveModelFlag("mlp:256,256", shape, "--model", "pytorch")).initializer, "pytorch");
  assert.equal((await resolveModelFlag("mlp:256,256", shape)).initializer, undefined);
  await assert.rejects(resolveModelFlag("mlp", shape, "--model", "kaiming"), (e: unknown) => e instanceof OptionsError && /glorot-normal, glorot-uniform, pytorch/.test(e.message));
});
