/**
 * Run as its own process by test/backend/wasm_threads.test.ts: starts wasm
 * (threads from RELEARN_WASM_THREADS), trains a small MLP for a few Adam
 * steps, and prints the thread count and a digest of the trained weights as
 * JSON. It never calls process.exit: the process must end by itself.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import { TrainingOptimizer } from "../../src/training/optimizers.js";
import { Random } from "../../src/random.js";

const info = await initBackend("wasm");
const model = buildModel(mlp({ inputShape: [64], hidden: [96, 48], classes: 5 }), { seed: 3 });
const random = Random.fromSeed(11);
const x = tf.tensor2d(Float32Array.from({ length: 40 * 64 }, () => random.float() * 2 - 1), [40, 64]);
const y = tf.tensor1d(Int32Array.from({ length: 40 }, () => random.int(0, 4)), "int32");
const optimizer = new TrainingOptimizer({ name: "adam", learningRate: 0.01 });
const variables = model.trainableVariables();
for (let step = 0; step < 10; step++) {
  const { value, grads } = tf.variableGrads(() => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar, variables);
  optimizer.step(grads, variables);
  value.dispose();
  tf.dispose(Object.values(grads));
}
const hash = createHash("sha256");
for (const variable of variables) hash.update(Buffer.from((variable.dataSync() as Float32Array).buffer));
console.log(JSON.stringify({ threads: info.threads, digest: hash.digest("hex"), reason: info.reason }));
