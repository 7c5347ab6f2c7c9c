import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import fc from "fast-check";
import { chainLayers, compileLayers, compileModelChain, runChain, runChainRecording } from "../../src/model/chain_forward.js";
import { ContinualModel, buildModel } from "../../src/model/continual_model.js";
import { cnn, mlp } from "../../src/model/spec.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

/** Logits and gradients (by variable name) of a summed loss, through tfjs-layers or the chain. */
function forwardAndGrads(model: ContinualModel, x: tf.Tensor, taskId: string | undefined, viaChain: boolean): { logits: Float32Array; grads: Map<string, Float32Array> } {
  let logits: Float32Array = new Float32Array();
  let values = new Map<string, Float32Array>();
  tf.tidy(() => {
    const variables = model.trainableVariables(taskId);
    const { grads } = tf.variableGrads(() => {
      // The same dropout seed for both paths, as the training loop sets before each step.
      model.setDropoutSeed(42);
      const out = viaChain ? model.getLogits(x, taskId, true) : layersForward(model, x, taskId);
      logits = Float32Array.from(out.dataSync());
      return tf.sum(tf.mul(out, tf.reshape(tf.linspace(-1, 1, out.size), out.shape))) as tf.Scalar;
    }, variables);
    values = new Map(Object.entries(grads).map(([name, g]) => [name, Float32Array.from(g.dataSync())]));
  });
  return { logits, grads: values };
}

/** The tfjs-layers forward the chain replaces (what getLogits ran before). */
function layersForward(model: ContinualModel, x: tf.Tensor, taskId: string | undefined): tf.Tensor {
  const internals = model as unknown as { body: tfl.LayersModel; headFor(id: string | undefined): { layer: tfl.layers.Layer } | undefined };
  const features = internals.body.apply(x, { training: true }) as tf.Tensor;
  const head = internals.headFor(taskId ?? "default_task");
  return head === undefined ? features : (head.layer.apply(features, { training: true }) as tf.Tensor);
}

function close(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1e-3, ...Array.from(expected, Math.abs));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test("an MLP's training forward through the op chain equals tfjs-layers' in logits and every gradient (property over specs)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        inputShape: fc.constantFrom<number[]>([12], [3, 4]),
        hidden: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 0, maxLength: 3 }),
        activation: fc.constantFrom("relu", "tanh", "sigmoid", "gelu"),
        dropout: fc.constantFrom(0, 0.3),
        multiHead: fc.boolean(),
        seed: fc.integer({ min: 0, max: 1000 }),
      }),
      async ({ inputShape, hidden, activation, dropout, multiHead, seed }) => {
        await expectNoTensorLeak(() => {
          const spec = mlp({ inputShape, hidden, classes: 4, activation, multiHead, ...(dropout > 0 ? { dropout } : {}) });
          const model = buildModel(spec, { seed });
          const taskId = multiHead ? "task-b" : undefined;
          if (taskId !== undefined) model.ensureHead(taskId);
          const x = tf.randomNormal([5, ...inputShape], 0, 1, "float32", seed);
          const viaLayers = forwardAndGrads(model, x, taskId, false);
          const viaChain = forwardAndGrads(model, x, taskId, true);
          close(viaChain.logits, viaLayers.logits, "logits");
          assert.deepEqual([...viaChain.grads.keys()].sort(), [...viaLayers.grads.keys()].sort());
          for (const [name, grad] of viaLayers.grads) close(viaChain.grads.get(name)!, grad, `grad ${name}`);
          x.dispose();
          model.dispose();
        });
      },
    ),
    { numRuns: 25 },
  );
});

test("a CNN's training forward through the op chain equals tfjs-layers' in logits and every gradient (property over specs)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        size: fc.integer({ min: 4, max: 9 }),
        channels: fc.integer({ min: 1, max: 3 }),
        blocks: fc.array(
          fc.record({ filters: fc.integer({ min: 1, max: 5 }), kernelSize: fc.constantFrom(1, 2, 3), stride: fc.constantFrom(1, 2), pool: fc.boolean() }),
          { minLength: 1, maxLength: 2 },
        ),
        activation: fc.constantFrom("relu", "tanh"),
        seed: fc.integer({ min: 0, max: 1000 }),
      }),
      async ({ size, channels, blocks, activation, seed }) => {
        // Keep every map at least 1x1: a pool halves it, a stride divides it.
        let side = size;
        const conv = blocks.map((block) => {
          const pool = block.pool && Math.ceil(side / block.stride) >= 2;
          side = Math.floor(Math.ceil(side / block.stride) / (pool ? 2 : 1));
          return { ...block, pool };
        });
        await expectNoTensorLeak(() => {
          const model = buildModel(cnn({ inputShape: [size, size, channels], conv, dense: [4], classes: 3, activation }), { seed });
          assert.notEqual(compileModelChain((model as unknown as { body: tfl.LayersModel }).body), null);
          const x = tf.randomNormal([3, size, size, channels], 0, 1, "float32", seed);
          const viaLayers = forwardAndGrads(model, x, undefined, false);
          const viaChain = forwardAndGrads(model, x, undefined, true);
          close(viaChain.logits, viaLayers.logits, "logits");
          assert.deepEqual([...viaChain.grads.keys()].sort(), [...viaLayers.grads.keys()].sort());
          for (const [name, grad] of viaLayers.grads) close(viaChain.grads.get(name)!, grad, `grad ${name}`);
          x.dispose();
          model.dispose();
        });
      },
    ),
    { numRuns: 20 },
  );
});

test("layers the chain does not cover (batch norm, branches) keep the tfjs-layers forward", () => {
  const withBatchNorm = buildModel(mlp({ inputShape: [6], hidden: [4], classes: 3, batchNorm: true }), { seed: 1 });
  const convolutional = buildModel(cnn({ inputShape: [8, 8, 1], conv: [{ filters: 2, kernelSize: 3 }], dense: [4], classes: 3, batchNorm: true }), { seed: 1 });
  const plain = buildModel(mlp({ inputShape: [6], hidden: [4], classes: 3 }), { seed: 1 });
  const bodyOf = (model: ContinualModel) => (model as unknown as { body: tfl.LayersModel }).body;
  assert.equal(compileModelChain(bodyOf(withBatchNorm)), null);
  assert.equal(compileModelChain(bodyOf(convolutional)), null);
  assert.notEqual(compileModelChain(bodyOf(plain)), null);

  const input = tfl.input({ shape: [6] });
  const left = tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor;
  const right = tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor;
  const branched = tfl.model({ inputs: input, outputs: tfl.layers.add().apply([left, right]) as tfl.SymbolicTensor });
  assert.equal(compileModelChain(branched), null);

  const sequential = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 5, activation: "relu" }), tfl.layers.dense({ units: 2 })] });
  const chain = compileModelChain(sequential);
  assert.notEqual(chain, null);
  tf.tidy(() => {
    const x = tf.randomNormal([3, 6], 0, 1, "float32", 3);
    close(Float32Array.from(runChain(chain!, x, true).dataSync()), Float32Array.from((sequential.apply(x) as tf.Tensor).dataSync()), "sequential");
  });
  for (const model of [withBatchNorm, convolutional, plain]) model.dispose();
  sequential.dispose();
  branched.dispose();
});

test("dropout in the chain is off outside training and uses the layer's current seed in training", () => {
  const model = buildModel(mlp({ inputShape: [10], hidden: [16], classes: 3, dropout: 0.5 }), { seed: 2 });
  const chain = compileModelChain((model as unknown as { body: tfl.LayersModel }).body)!;
  tf.tidy(() => {
    const x = tf.ones([4, 10]);
    const inference = Float32Array.from(runChain(chain, x, false).dataSync());
    const layers = Float32Array.from(((model as unknown as { body: tfl.LayersModel }).body.apply(x, { training: false }) as tf.Tensor).dataSync());
    close(inference, layers, "inference");
    model.setDropoutSeed(1);
    const a = Float32Array.from(runChain(chain, x, true).dataSync());
    const again = Float32Array.from(runChain(chain, x, true).dataSync());
    model.setDropoutSeed(2);
    const b = Float32Array.from(runChain(chain, x, true).dataSync());
    assert.deepEqual(again, a);
    assert.notDeepEqual(b, a);
    assert.ok(a.some((v) => v === 0), "some units dropped");
  });
  model.dispose();
});

test("a Dense applied twice (no single symbolic input) is left to tfjs-layers instead of throwing", () => {
  const shared = tfl.layers.dense({ units: 3 });
  const a = tfl.input({ shape: [4] });
  const b = tfl.input({ shape: [4] });
  shared.apply(a);
  shared.apply(b);
  assert.equal(compileLayers([shared]), null);
});

test("a Conv2D + ReLU pair runs fused on wasm, except when the conv's own output is recorded (a feature tap)", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(cnn({ inputShape: [6, 6, 2], conv: [{ filters: 4, kernelSize: 3, pool: true }], dense: [3], classes: 2 }), { seed: 3 });
    const body = (model as unknown as { body: tfl.LayersModel }).body;
    const chain = compileModelChain(body)!;
    const layers = chainLayers(body);
    const convIndex = layers.findIndex((layer) => layer.getClassName() === "Conv2D");
    assert.equal(layers[convIndex + 1]?.getClassName(), "Activation");
    assert.equal(chain[convIndex]!.fused?.span, 3);
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, "float32", 7);
    tf.tidy(() => {
      const fused = runChain(chain, x, true);
      const { output, recorded } = runChainRecording(chain, x, true, [convIndex, convIndex + 1]);
      // Recorded: the conv's pre-activation output (conv + bias), then the ReLU's.
      const [conv, relu] = recorded as [tf.Tensor, tf.Tensor];
      const kernel = layers[convIndex]!.getWeights();
      const expectedConv = tf.add(tf.conv2d(x as tf.Tensor4D, kernel[0] as tf.Tensor4D, 1, "same"), kernel[1]!);
      close(conv.dataSync() as Float32Array, expectedConv.dataSync() as Float32Array, "recorded conv");
      close(relu.dataSync() as Float32Array, tf.relu(expectedConv).dataSync() as Float32Array, "recorded relu");
      close(fused.dataSync() as Float32Array, output.dataSync() as Float32Array, "fused output");
    });
    x.dispose();
    model.dispose();
  });
});
