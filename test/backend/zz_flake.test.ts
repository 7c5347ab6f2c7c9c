import { before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { setPatchFloatsPerChunk } from "../../src/backend/wasm_kernels/conv2d_backprop_filter.js";
import { wasmKernelOverridesInstalled } from "../../src/backend/wasm_kernels/index.js";
import { buildModel } from "../../src/model/continual_model.js";
import { cnn } from "../../src/model/spec.js";
import { crossEntropyLoss } from "../../src/training/losses.js";
import { Random } from "../../src/random.js";
import { useBackend } from "../helpers/backend.js";

/** Values that build a tensor identically on either backend. */
interface Input {
  shape: number[];
  values: Float32Array;
}

function randomInput(shape: number[], seed: number): Input {
  const random = Random.fromSeed(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = random.float() * 2 - 1;
  return { shape, values };
}

function wasmDataIds(): number {
  return (tf.findBackend("wasm") as unknown as { numDataIds(): number }).numDataIds();
}

/**
 * Runs `compute` on cpu, then on wasm, and returns both results as flat
 * arrays. Checks that neither run leaves a tensor (or a wasm buffer) behind.
 */
async function onBothBackends(compute: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const results: Record<string, Float32Array[]> = {};
  for (const name of ["cpu", "wasm"]) {
    await tf.setBackend(name);
    // A first run moves tensors made on the other backend (model weights) here.
    tf.dispose(tf.tidy(compute));
    const tensors = tf.memory().numTensors;
    const buffers = wasmDataIds();
    const outputs = tf.tidy(compute);
    results[name] = outputs.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(outputs);
    assert.equal(tf.memory().numTensors, tensors, `tensors leaked on ${name}`);
    if (name === "wasm") assert.equal(wasmDataIds(), buffers, "wasm buffers leaked");
  }
  await tf.setBackend("wasm");
  return { cpu: results["cpu"] ?? [], wasm: results["wasm"] ?? [] };
}

/** max |wasm - cpu| / max |cpu|: the error relative to the result's scale. */
function relativeError(cpu: Float32Array, wasm: Float32Array): number {
  let scale = 0;
  let error = 0;
  for (let i = 0; i < cpu.length; i++) {
    scale = Math.max(scale, Math.abs(cpu[i] ?? 0));
    error = Math.max(error, Math.abs((cpu[i] ?? 0) - (wasm[i] ?? Number.NaN)));
  }
  assert.ok(Number.isFinite(error), "wasm result has NaN or Infinity");
  return scale === 0 ? error : error / scale;
}

function assertAgree(outcome: { cpu: Float32Array[]; wasm: Float32Array[] }, what: string, tolerance = 1e-5): void {
  assert.equal(outcome.wasm.length, outcome.cpu.length);
  outcome.cpu.forEach((cpu, i) => {
    assert.equal(outcome.wasm[i]?.length, cpu.length, `${what}, output ${i}: sizes differ`);
    const error = relativeError(cpu, outcome.wasm[i] ?? new Float32Array());
    assert.ok(error <= tolerance, `${what}, output ${i}: relative error ${error} > ${tolerance}`);
  });
}

const tensorOf = (input: Input): tf.Tensor => tf.tensor(input.values, input.shape);

before(async () => {
  await useBackend("cpu");
  await useBackend("wasm");
});

test("initBackend('wasm') installs relearn's kernels for BatchMatMul, _FusedMatMul, Conv2D, both conv gradients and MaxPoolGrad", () => {
  assert.equal(wasmKernelOverridesInstalled(), true);
  for (const name of [tf.BatchMatMul, tf._FusedMatMul, tf.Conv2D, tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.MaxPoolGrad, tf.Identity, tf.Cast]) {
    const kernel = tf.getKernel(name, "wasm");
    assert.ok(kernel !== undefined, `${name} registered`);
    assert.match(kernel.kernelFunc.name, /OnFastPath$/, `${name} is relearn's override`);
  }
});

test("Identity (and Cast to the same dtype) share the input's wasm buffer, as on cpu: a clone outlives its source and frees the buffer last", async () => {
  await tf.setBackend("wasm");
  const buffers = wasmDataIds();
  const source = tf.tensor([1, 2, 3, 4], [2, 2]);
  const copy = tf.clone(source);
  assert.equal(wasmDataIds(), buffers + 1, "one buffer for both");
  source.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1, 2, 3, 4]);
  copy.dispose();
  assert.equal(wasmDataIds(), buffers, "the buffer freed with the last reference");
  const floats = tf.tensor([1.5, -2.5]);
  const same = tf.cast(floats, "float32");
  assert.equal(wasmDataIds(), buffers + 1, "a cast to the same dtype shares the buffer");
  const ints = tf.cast(floats, "int32");
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2], "a real cast converts");
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.5]);
  tf.dispose([floats, same, ints]);
  const words = tf.clone(tf.tensor(["a", "b"]));
  assert.deepEqual(words.arraySync(), ["a", "b"]);
  words.dispose();
});

/** [m, k, n]: a row, a column, a single inner element, odd sizes. */
const SIZES: Array<[number, number, number]> = [
  [1, 7, 5],
  [13, 1, 9],
  [17, 33, 1],
  [31, 45, 23],
  [6, 40, 50],
];
/**
 * Batch dims of a and b: none, batch 1, batch > 1, broadcast either way, over
 * two axes. (The cpu reference itself is wrong when both operands broadcast,
 * e.g. [2, 1] against [3], so no such case is here.)
 */
const BATCHES: Array<[number[], number[]]> = [
  [[], []],
  [[1], [1]],
  [[3], [3]],
  [[3], []],
  [[], [4]],
  [[1], [4]],
  [[2, 3], [3]],
  [[2, 3], [1, 3]],
];

function matMulOperands(m: number, k: number, n: number, batchA: number[], batchB: number[], transposeA: boolean, transposeB: boolean, seed: number) {
  const a = randomInput([...batchA, ...(transposeA ? [k, m] : [m, k])], seed);
  const b = randomInput([...batchB, ...(transposeB ? [n, k] : [k, n])], seed + 1);
  return { a, b };
}

test("BatchMatMul agrees with cpu for every transpose combo, batch size and odd shape", async () => {
  let seed = 0;
  for (const [m, k, n] of SIZES) {
    for (const [batchA, batchB] of BATCHES) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const { a, b } = matMulOperands(m, k, n, batchA, batchB, transposeA, transposeB, (seed += 2));
          const outcome = await onBothBackends(() => [tf.matMul(tensorOf(a), tensorOf(b), transposeA, transposeB)]);
          assertAgree(outcome, `matMul [${a.shape}] x [${b.shape}] tA=${transposeA} tB=${transposeB}`);
        }
      }
    }
  }
});

test("_FusedMatMul (bias + activation) agrees with cpu, transposed and batched", async () => {
  const activations: Array<{ activation: "linear" | "relu" | "leakyrelu" | "prelu"; alpha?: number }> = [
    { activation: "linear" },
    { activation: "relu" },
    { activation: "leakyrelu", alpha: 0.3 },
    { activation: "prelu" },
  ];
  let seed = 1000;
  for (const [m, k, n] of [[1, 6, 5], [19, 11, 7]] as Array<[number, number, number]>) {
    for (const [batchA, batchB] of [[[], []], [[3], [3]], [[2], []]] as Array<[number[], number[]]>) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          for (const { activation, alpha } of activations) {
            const { a, b } = matMulOperands(m, k, n, batchA, batchB, transposeA, transposeB, (seed += 3));
            const bias = randomInput([n], seed + 2);
            const prelu = randomInput([n], seed + 5);
            const outcome = await onBothBackends(() => [
              tf.fused.matMul({
                a: tensorOf(a),
                b: tensorOf(b),
                transposeA,
                transposeB,
                bias: tensorOf(bias),
                activation,
                ...(activation === "prelu" ? { preluActivationWeights: tensorOf(prelu) } : {}),
                ...(alpha === undefined ? {} : { leakyreluAlpha: alpha }),
              }),
            ]);
            assertAgree(outcome, `fused ${activation} [${a.shape}] x [${b.shape}] tA=${transposeA} tB=${transposeB}`);
          }
        }
      }
    }
  }
});

/** x shape, filter shape, strides, padding. */
const CONVS: Array<{ x: number[]; filter: number[]; strides: number | [number, number]; pad: "same" | "valid" }> = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same" },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: "valid" },
  { x: [3, 8, 9, 2], filter: [2, 3, 2, 5], strides: 2, pad: "valid" },
  { x: [3, 8, 9, 2], filter: [2, 3, 2, 5], strides: 2, pad: "same" },
  { x: [1, 5, 5, 1], filter: [1, 1, 1, 3], strides: 1, pad: "valid" },
  { x: [2, 9, 8, 4], filter: [5, 5, 4, 2], strides: [2, 3], pad: "same" },
  { x: [2, 6, 6, 17], filter: [3, 3, 17, 6], strides: 3, pad: "same" },
  { x: [1, 4, 4, 2], filter: [4, 4, 2, 3], strides: 1, pad: "valid" },
  // Stride 1 takes the shifted-grid path of Conv2DBackpropFilter: uneven "same" paddings, one channel, wide filters.
  { x: [3, 5, 6, 1], filter: [2, 4, 1, 3], strides: 1, pad: "same" },
  { x: [2, 6, 5, 5], filter: [5, 3, 5, 7], strides: 1, pad: "same" },
  { x: [2, 3, 7, 2], filter: [3, 1, 2, 2], strides: 1, pad: "valid" },
  // Several sample chunks (the patch matrix is cut at 8M floats).
  { x: [15, 64, 64, 16], filter: [3, 3, 16, 2], strides: 1, pad: "same" },
  // A multiple of 16 filters at stride 1: conv_filter_grad.wat (odd and single input channels, valid and same).
  { x: [3, 9, 7, 1], filter: [3, 3, 1, 32], strides: 1, pad: "same" },
  { x: [2, 6, 6, 3], filter: [3, 2, 3, 16], strides: 1, pad: "valid" },
  { x: [3, 7, 5, 5], filter: [2, 3, 5, 48], strides: 1, pad: "same" },
  { x: [2, 6, 6, 8], filter: [5, 5, 8, 16], strides: 1, pad: "same" },
  // 3x3 "same" on even sides, multiples of 4 channels: Conv2D and Conv2DBackpropInput by Winograd (conv2d_winograd.ts), and
  // Conv2DBackpropFilter too with a multiple of 16 filters.
  { x: [2, 8, 6, 4], filter: [3, 3, 4, 8], strides: 1, pad: "same" },
  { x: [3, 14, 14, 32], filter: [3, 3, 32, 64], strides: 1, pad: "same" },
];

test("Conv2DBackpropFilter and Conv2DBackpropInput: tf.grads of conv2d agree with cpu over strides, paddings, kernels", async () => {
  let seed = 5000;
  for (const { x, filter, strides, pad } of CONVS) {
    const xInput = randomInput(x, (seed += 3));
    const filterInput = randomInput(filter, seed + 1);
    const outcome = await onBothBackends(() => {
      const xs = tensorOf(xInput) as tf.Tensor4D;
      const ws = tensorOf(filterInput) as tf.Tensor4D;
      // A random weighting of the outputs, so dy is not all ones.
      const outShape = tf.conv2d(xs, ws, strides, pad).shape;
      const weights = tensorOf(randomInput(outShape, seed + 2));
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad), weights));
      return tf.grads(loss)([xs, ws]);
    });
    assertAgree(outcome, `conv2d grads x [${x}] filter [${filter}] strides ${String(strides)} pad ${pad}`);
  }
});

test("Conv2DBackpropFilter agrees with cpu (property over shapes, strides 1-2, same and valid)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        height: fc.integer({ min: 1, max: 9 }),
        width: fc.integer({ min: 1, max: 9 }),
        inChannels: fc.integer({ min: 1, max: 5 }),
        // 16 and 32 at stride 1 take conv_filter_grad.wat.
        outChannels: fc.constantFrom(1, 2, 3, 4, 16, 32),
        filterHeight: fc.integer({ min: 1, max: 4 }),
        filterWidth: fc.integer({ min: 1, max: 4 }),
        strides: fc.constantFrom<[number, number]>([1, 1], [1, 2], [2, 2]),
        pad: fc.constantFrom<"same" | "valid">("same", "valid"),
        // Floats of the patch matrix per chunk: the default (one chunk here) or small (a chunk per sample or two).
        chunk: fc.constantFrom(undefined, 300),
        seed: fc.integer({ min: 0, max: 10_000 }),
      }),
      async ({ batch, height, width, inChannels, outChannels, filterHeight, filterWidth, strides, pad, chunk, seed }) => {
        const filterShape: [number, number, number, number] = [Math.min(filterHeight, height), Math.min(filterWidth, width), inChannels, outChannels];
        const xInput = randomInput([batch, height, width, inChannels], seed);
        const info = tf.backend_util.computeConv2DInfo([batch, height, width, inChannels], filterShape, strides, 1, pad);
        const outShape = [batch, info.outHeight, info.outWidth, outChannels];
        const dyInput = randomInput(outShape, seed + 1);
        const previous = setPatchFloatsPerChunk(chunk);
        try {
          const outcome = await onBothBackends(() => [
            tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tensorOf(xInput), dy: tensorOf(dyInput) }, { strides, pad, dataFormat: "NHWC", filterShape }) as tf.Tensor,
          ]);
          assertAgree(outcome, `Conv2DBackpropFilter x [${xInput.shape}] filter [${filterShape}] strides ${String(strides)} pad ${pad} chunk ${chunk ?? "default"}`);
        } finally {
          setPatchFloatsPerChunk(previous);
        }
      },
    ),
    { numRuns: 600 },
  );
});

test("Conv2D and its input and filter gradients by Winograd F(2x2, 3x3) agree with cpu (property over even sides, channels, filters)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        height: fc.integer({ min: 1, max: 6 }).map((h) => 2 * h),
        width: fc.integer({ min: 1, max: 6 }).map((w) => 2 * w),
        inChannels: fc.constantFrom(4, 8, 12, 32),
        outChannels: fc.constantFrom(4, 8, 16, 64),
        seed: fc.integer({ min: 0, max: 10_000 }),
      }),
      async ({ batch, height, width, inChannels, outChannels, seed }) => {
        const xInput = randomInput([batch, height, width, inChannels], seed);
        const filterInput = randomInput([3, 3, inChannels, outChannels], seed + 1);
        const weights = randomInput([batch, height, width, outChannels], seed + 2);
        const outcome = await onBothBackends(() => {
          const xs = tensorOf(xInput) as tf.Tensor4D;
          const ws = tensorOf(filterInput) as tf.Tensor4D;
          const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same");
          const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), tensorOf(weights)));
          return [conv(xs, ws), ...tf.grads(loss)([xs, ws])];
        });
        assertAgree(outcome, `winograd conv2d x [${[batch, height, width, inChannels]}] filters ${outChannels}`);
      },
    ),
    { numRuns: 300 },
  );
});

/** maxPool cases: window, stride, padding (valid, same, explicit), overlapping and not. */
const POOLS: Array<{ x: number[]; filter: number | [number, number]; strides: number | [number, number]; pad: "valid" | "same" | number }> = [
  { x: [2, 8, 8, 3], filter: 2, strides: 2, pad: "valid" },
  { x: [1, 7, 9, 5], filter: 3, strides: 2, pad: "same" },
  { x: [3, 6, 5, 2], filter: 3, strides: 1, pad: "valid" },
  { x: [2, 5, 7, 4], filter: [2, 3], strides: [1, 2], pad: "same" },
  { x: [1, 6, 6, 1], filter: 2, strides: 1, pad: 1 },
];

test("MaxPoolGrad: tf.grads of maxPool agree with cpu over windows, strides and paddings, ties included", async () => {
  let seed = 7000;
  for (const { x, filter, strides, pad } of POOLS) {
    const random = randomInput(x, (seed += 2));
    // Coarse values (multiples of 0.25) so many windows hold ties: the first maximum must win on both backends.
    const tied: Input = { shape: x, values: random.values.map((v) => Math.round(v * 4) / 4) };
    for (const input of [random, tied]) {
      const outcome = await onBothBackends(() => {
        const xs = tensorOf(input) as tf.Tensor4D;
        const outShape = tf.maxPool(xs, filter, strides, pad).shape;
        const weights = tensorOf(randomInput(outShape, seed + 1));
        return tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, filter, strides, pad), weights)))([xs]);
      });
      // cpu sums overlapping windows in float64, wasm in float32: equal up to rounding.
      assertAgree(outcome, `maxPool grad x [${x}] filter ${String(filter)} strides ${String(strides)} pad ${pad}`);
    }
  }
});

test("MaxPoolGrad agrees with cpu (property over shapes, windows and strides, overlapping or not, ties, NaN and -Infinity)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        height: fc.integer({ min: 1, max: 9 }),
        width: fc.integer({ min: 1, max: 9 }),
        // Multiples of 4 take the SIMD kernel when the windows do not overlap.
        channels: fc.constantFrom(1, 3, 4, 8, 12),
        filter: fc.constantFrom<[number, number]>([1, 1], [2, 2], [3, 3], [2, 3]),
        strides: fc.constantFrom<[number, number]>([1, 1], [2, 2], [3, 3], [2, 3], [3, 4]),
        pad: fc.constantFrom<"same" | "valid">("same", "valid"),
        special: fc.constantFrom("none", "ties", "nan", "-inf"),
        seed: fc.integer({ min: 0, max: 10_000 }),
      }),
      async ({ batch, height, width, channels, filter, strides, pad, special, seed }) => {
        const window: [number, number] = [Math.min(filter[0], height), Math.min(filter[1], width)];
        const random = randomInput([batch, height, width, channels], seed);
        const values = random.values.map((v, i) => {
          if (special === "ties") return Math.round(v * 2) / 2;
          if (special === "nan" && i % 3 === 0) return Number.NaN;
          if (special === "-inf" && i % 2 === 0) return Number.NEGATIVE_INFINITY;
          return v;
        });
        const input: Input = { shape: random.shape, values };
        const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], window, strides, 1, pad);
        const dyInput = randomInput([batch, info.outHeight, info.outWidth, channels], seed + 1);
        const outcome = await onBothBackends(() => {
          const x = tensorOf(input);
          const y = tf.maxPool(x as tf.Tensor4D, window, strides, pad);
          return [tf.engine().runKernel(tf.MaxPoolGrad, { dy: tensorOf(dyInput), input: x, output: y }, { filterSize: window, strides, pad }) as tf.Tensor];
        });
        assertAgree(outcome, `MaxPoolGrad x [${input.shape}] window ${String(window)} strides ${String(strides)} pad ${pad} ${special}`);
      },
    ),
    { numRuns: 80 },
  );
});

test("the direct kernels agree with cpu too (conv2dTranspose runs Conv2DBackpropInput)", async () => {
  const dy = randomInput([2, 4, 5, 6], 77);
  const filter = randomInput([3, 3, 4, 6], 78);
  const outcome = await onBothBackends(() => [
    tf.conv2dTranspose(tensorOf(dy) as tf.Tensor4D, tensorOf(filter) as tf.Tensor4D, [2, 8, 10, 4], 2, "same"),
  ]);
  assertAgree(outcome, "conv2dTranspose");
});

test("a cnn spec trains on wasm: gradients agree with cpu and an SGD step lowers the loss, without leaks", async () => {
  const spec = cnn({ inputShape: [10, 10, 1], conv: [{ filters: 4, kernelSize: 3, pool: true }, { filters: 6, kernelSize: 3 }], dense: [8], classes: 3 });
  await tf.setBackend("wasm");
  const model = buildModel(spec, { seed: 3 });
  const images = randomInput([6, 10, 10, 1], 99);
  const labels = new Int32Array([0, 1, 2, 0, 1, 2]);
  const lossOf = () =>
    tf.tidy(() => tf.mean(crossEntropyLoss(model.getLogits(tensorOf(images), undefined, true), tf.tensor1d(labels, "int32"))) as tf.Scalar);
  const variables = model.trainableVariables();
  const outcome = await onBothBackends(() => {
    const { grads } = tf.variableGrads(lossOf, variables);
    return variables.map((v) => grads[v.name] as tf.Tensor);
  });
  assertAgree(outcome, "cnn gradients", 1e-4);

  const optimizer = tf.train.sgd(0.1);
  const tensors = tf.memory().numTensors;
  const buffers = wasmDataIds();
  const before = lossOf();
  const lossBefore = before.dataSync()[0] ?? Number.NaN;
  before.dispose();
  for (let step = 0; step < 3; step++) tf.dispose(optimizer.minimize(lossOf, false, variables) ?? []);
  const after = lossOf();
  const lossAfter = after.dataSync()[0] ?? Number.NaN;
  after.dispose();
  assert.ok(lossAfter < lossBefore, `loss ${lossBefore} -> ${lossAfter} should fall`);
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked by training");
  assert.equal(wasmDataIds(), buffers, "wasm buffers leaked by training");
  optimizer.dispose();
  model.dispose();
});

test("a small CNN trained 5 SGD steps on wasm (relearn's kernels, op-chain forward) ends at cpu's weights within 1e-4", async () => {
  // 16 filters: both filter gradients take conv_filter_grad.wat; 2x2 pools on 16 channels take max_pool_grad.wat.
  const spec = cnn({ inputShape: [12, 12, 1], conv: [{ filters: 16, kernelSize: 3, pool: true }, { filters: 16, kernelSize: 3, pool: true }], dense: [8], classes: 4 });
  const images = randomInput([16, 12, 12, 1], 123);
  const labels = new Int32Array(16).map((_, i) => i % 4);
  const weightsAfterTraining = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const model = buildModel(spec, { seed: 5 });
    const variables = model.trainableVariables();
    const optimizer = tf.train.sgd(0.05);
    const x = tensorOf(images);
    const y = tf.tensor1d(labels, "int32");
    for (let step = 0; step < 5; step++) {
      tf.dispose(optimizer.minimize(() => tf.mean(crossEntropyLoss(model.getLogits(x, undefined, true), y)) as tf.Scalar, false, variables) ?? []);
    }
    const weights = variables.map((v) => Float32Array.from(v.dataSync()));
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
    return weights;
  };
  const cpu = await weightsAfterTraining("cpu");
  const wasm = await weightsAfterTraining("wasm");
  assertAgree({ cpu, wasm }, "CNN weights after 5 steps", 1e-4);
});
