import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { TrainingOptimizer } from "../../src/training/optimizers.js";
import { clipGradients } from "../../src/training/gradient_clipping.js";

before(async () => {
  await useBackend("wasm");
});

/** One optimizer step on w = [1, -2] with gradient g; returns the new w. */
function stepOnce(spec: ConstructorParameters<typeof TrainingOptimizer>[0], g: number[], lr?: number): number[] {
  const init = tf.tensor1d([1, -2]);
  const w = tf.variable(init, true, `w${Math.random()}`);
  init.dispose();
  const optimizer = new TrainingOptimizer(spec);
  if (lr !== undefined) optimizer.setLearningRate(lr);
  const grad = tf.tensor1d(g);
  optimizer.step({ [w.name]: grad }, [w]);
  const out = Array.from(w.dataSync());
  grad.dispose();
  w.dispose();
  optimizer.dispose();
  return out;
}

function near(a: number[], b: number[], tol = 1e-6): void {
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < tol, `${a} vs ${b}`));
}

test("sgd, coupled weight decay, setLearningRate", () => {
  const before = tf.memory().numTensors;
  near(stepOnce({ name: "sgd", learningRate: 0.1 }, [1, 1]), [0.9, -2.1]);
  // grad + wd * w = [1 + 0.5, 1 - 1]
  near(stepOnce({ name: "sgd", learningRate: 0.1, weightDecay: 0.5 }, [1, 1]), [1 - 0.15, -2]);
  near(stepOnce({ name: "sgd", learningRate: 0.1 }, [1, 1], 0.01), [0.99, -2.01]);
  assert.equal(tf.memory().numTensors, before);
});

test("adam's first step moves each weight by lr (bias-corrected), adamw also decays by lr*wd", () => {
  const before = tf.memory().numTensors;
  near(stepOnce({ name: "adam", learningRate: 0.01 }, [3, -0.5]), [0.99, -1.99], 1e-5);
  near(stepOnce({ name: "adam", learningRate: 0.01 }, [3, -0.5], 0.1), [0.9, -1.9], 1e-5);
  // AdamW: w * (1 - lr * wd) - lr * sign(g)
  near(stepOnce({ name: "adamw", learningRate: 0.01, weightDecay: 0.1 }, [3, -0.5]), [1 * 0.999 - 0.01, -2 * 0.999 + 0.01], 1e-5);
  assert.equal(tf.memory().numTensors, before);
});

test("invalid optimizer specs name the problem", () => {
  assert.throws(() => new TrainingOptimizer({ name: "adam", learningRate: -1 }), /invalid optimizer/);
  assert.throws(() => new TrainingOptimizer({ name: "rmsprop", learningRate: 1 } as never), /invalid optimizer/);
});

test("clipGradients by norm rescales the global norm; by value clamps", () => {
  const before = tf.memory().numTensors;
  const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) }; // global norm 5
  const byNorm = clipGradients(grads, { value: 1, algorithm: "norm" });
  near(Array.from(byNorm["a"]!.dataSync()), [0.6, 0], 1e-5);
  near(Array.from(byNorm["b"]!.dataSync()), [0, 0.8], 1e-5);
  const loose = clipGradients(grads, { value: 10, algorithm: "norm" });
  near(Array.from(loose["b"]!.dataSync()), [0, 4], 1e-5);
  const byValue = clipGradients(grads, { value: 2, algorithm: "value" });
  near(Array.from(byValue["a"]!.dataSync()), [2, 0]);
  near(Array.from(byValue["b"]!.dataSync()), [0, 2]);
  tf.dispose([grads, byNorm, loose, byValue].flatMap((m) => Object.values(m)));
  assert.equal(tf.memory().numTensors, before);
});
