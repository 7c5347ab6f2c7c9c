import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { ADAM_UPDATE, adamUpdateArrays, type AdamStepAttrs } from "../../src/backend/adam_update_kernel.js";
import { ADAM_UPDATE_WASM } from "../../src/backend/wasm_kernels/adam_update_wasm.js";
import { composedUpdate, FusedAdam } from "../../src/training/fused_adam.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

/** The attrs of step `t` as FusedAdam computes them. */
function attrsAt(t: number, lr: number, coupledDecay = 0, decoupledDecay = 0, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8): AdamStepAttrs {
  return {
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    epsilon,
    stepSize: lr / (1 - beta1 ** t),
    secondMomentCorrection: 1 / Math.sqrt(1 - beta2 ** t),
    coupledDecay,
    decoupledFactor: 1 - lr * decoupledDecay,
  };
}

interface Case {
  w: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  attrs: AdamStepAttrs;
}

const floats = (n: number, min: number, max: number) =>
  fc.float32Array({ minLength: n, maxLength: n, min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true });

/** Random inputs of any length (exercising the SIMD body and the scalar tail) and step settings. */
const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 0, max: 41 }),
    t: fc.integer({ min: 1, max: 50 }),
    lr: fc.double({ min: 1e-5, max: 0.5, noNaN: true }),
    coupled: fc.constantFrom(0, 0.01, 0.5),
    decoupled: fc.constantFrom(0, 0.01, 0.2),
  })
  .chain(({ n, t, lr, coupled, decoupled }) =>
    fc.record({
      w: floats(n, -3, 3),
      g: floats(n, -10, 10),
      m: floats(n, -1, 1),
      v: floats(n, 0, 4),
      attrs: fc.constant(attrsAt(t, lr, coupled, decoupled)),
    }),
  );

function reference({ w, g, m, v, attrs }: Case): { value: Float32Array; m: Float32Array; v: Float32Array } {
  const out = { value: new Float32Array(w.length), m: new Float32Array(w.length), v: new Float32Array(w.length) };
  adamUpdateArrays(w, g, m, v, out, attrs);
  return out;
}

/** Equal as numbers, element by element (so +0 and -0 are equal, NaN is not). */
function sameNumbers(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) assert.ok(actual[i] === expected[i], `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test("reference value: Adam's first step moves each weight by lr against the gradient's sign; AdamW also shrinks it", () => {
  const lr = 0.1;
  const c: Case = { w: Float32Array.of(1, -2), g: Float32Array.of(0.5, -3), m: new Float32Array(2), v: new Float32Array(2), attrs: attrsAt(1, lr) };
  const out = reference(c);
  assert.ok(Math.abs(out.value[0]! - 0.9) < 1e-6 && Math.abs(out.value[1]! + 1.9) < 1e-6, String(out.value));
  assert.ok(Math.abs(out.m[0]! - 0.05) < 1e-7 && Math.abs(out.v[1]! - 0.009) < 1e-7);
  const decayed = reference({ ...c, attrs: attrsAt(1, lr, 0, 0.5) });
  assert.ok(Math.abs(decayed.value[0]! - (0.95 - 0.1)) < 1e-6, String(decayed.value));
});

for (const kind of ["plain", "shared"] as const) {
  test(`the SIMD module on a ${kind} memory equals the float32 reference bit for bit (property)`, () => {
    const memory = new WebAssembly.Memory(kind === "shared" ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
    const bytes = Buffer.from(ADAM_UPDATE_WASM[kind], "base64");
    const adam = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.adam as (...args: number[]) => void;
    fc.assert(
      fc.property(caseArbitrary, (c) => {
        const n = c.w.length;
        // Seven arrays at 16-byte-aligned offsets, plus an odd offset for the last
        // input to show that alignment does not matter.
        const stride = (Math.ceil((n * 4) / 16) + 1) * 16;
        const offsets = [0, 1, 2, 3, 4, 5, 6].map((k) => k * stride + (k === 3 ? 4 : 0));
        const heap = new Float32Array(memory.buffer);
        [c.w, c.g, c.m, c.v].forEach((array, k) => heap.set(array, offsets[k]! / 4));
        const a = c.attrs;
        adam(...offsets, n, a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.epsilon, a.stepSize, a.secondMomentCorrection, a.coupledDecay, a.decoupledFactor);
        const expected = reference(c);
        const read = (k: number) => new Float32Array(memory.buffer, offsets[k]!, n).slice();
        sameNumbers(read(4), expected.value, "value");
        sameNumbers(read(5), expected.m, "m");
        sameNumbers(read(6), expected.v, "v");
      }),
      { numRuns: 200 },
    );
  });
}

/**
 * A float32 that is often tiny: zeros of both signs, subnormals (a few units of 2^-149, where a first moment whose
 * gradient stays 0 ends up and stays: 0.9 m rounds back to m; and larger ones), values from 2^-130 to 2^-40 and at
 * the normal boundary 2^-126. Any faster path for such values (they are slow on x86: docs/performance.md) must keep
 * these results.
 */
const tinyFloat: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, 2 ** -149, -(2 ** -149), 3 * 2 ** -149, -4 * 2 ** -149, 2 ** -126, -(2 ** -126), 2 ** -127),
  fc.integer({ min: 1, max: 0x7fffff }).map((bits) => new Float32Array(new Uint32Array([bits]).buffer)[0]!),
  fc.tuple(fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: -130, max: -40 }), fc.boolean()).map(([x, e, negative]) =>
    Math.fround((negative ? -x : x) * 2 ** e),
  ),
  fc.float({ min: -1, max: 1, noNaN: true }),
);
const tinyArray = (n: number, nonNegative = false) =>
  fc.array(tinyFloat, { minLength: n, maxLength: n }).map((values) => Float32Array.from(values, (x) => (nonNegative ? Math.abs(x) : x)));

/** Inputs full of zeros, subnormals and tiny values, any length. */
const tinyCaseArbitrary: fc.Arbitrary<Case> = fc
  .record({ n: fc.integer({ min: 0, max: 41 }), t: fc.integer({ min: 1, max: 2000 }), lr: fc.double({ min: 1e-6, max: 0.1, noNaN: true }), coupled: fc.constantFrom(0, 1e-4), decoupled: fc.constantFrom(0, 0.01) })
  .chain(({ n, t, lr, coupled, decoupled }) =>
    fc.record({ w: tinyArray(n), g: tinyArray(n), m: tinyArray(n), v: tinyArray(n, true), attrs: fc.constant(attrsAt(t, lr, coupled, decoupled)) }),
  );

/** Bit for bit (tells -0 from +0). */
function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) assert.ok(a[i] === b[i], `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

for (const kind of ["plain", "shared"] as const) {
  test(`the SIMD module on a ${kind} memory equals the float32 reference bit for bit on zeros, subnormals and tiny values (property)`, () => {
    const memory = new WebAssembly.Memory(kind === "shared" ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
    const bytes = Buffer.from(ADAM_UPDATE_WASM[kind], "base64");
    const adam = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.adam as (...args: number[]) => void;
    fc.assert(
      fc.property(tinyCaseArbitrary, fc.boolean(), (c, inPlace) => {
        const n = c.w.length;
        const stride = (Math.ceil((n * 4) / 16) + 1) * 16;
        const offsets = [0, 1, 2, 3, 4, 5, 6].map((k) => k * stride);
        // The training loop's way: the new moments written over the old ones.
        if (inPlace) [offsets[5], offsets[6]] = [offsets[2]!, offsets[3]!];
        const heap = new Float32Array(memory.buffer);
        [c.w, c.g, c.m, c.v].forEach((array, k) => heap.set(array, offsets[k]! / 4));
        const a = c.attrs;
        adam(...offsets, n, a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.epsilon, a.stepSize, a.secondMomentCorrection, a.coupledDecay, a.decoupledFactor);
        const expected = reference(c);
        const read = (k: number) => new Float32Array(memory.buffer, offsets[k]!, n).slice();
        sameBits(read(4), expected.value, "value");
        sameBits(read(5), expected.m, "m");
        sameBits(read(6), expected.v, "v");
      }),
      { numRuns: 500 },
    );
  });
}

test("the registered kernel on wasm and on cpu, and the tfjs-ops path, all give the reference (property)", async () => {
  const run = (c: Case, backend: string): Float32Array[] =>
    tf.tidy(() => {
      const inputs = { value: tf.tensor1d(c.w), grad: tf.tensor1d(c.g), m: tf.tensor1d(c.m), v: tf.tensor1d(c.v) };
      const out = tf.engine().runKernel(ADAM_UPDATE, inputs, c.attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      assert.equal(tf.getBackend(), backend);
      return out.map((t) => Float32Array.from(t.dataSync()));
    });
  const samples = fc.sample(caseArbitrary.filter((c) => c.w.length > 0), { numRuns: 60, seed: 7 });
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    await expectNoTensorLeak(() => {
      for (const c of samples) {
        const expected = reference(c);
        const [value, m, v] = run(c, backend);
        sameNumbers(value!, expected.value, `${backend} value`);
        sameNumbers(m!, expected.m, `${backend} m`);
        sameNumbers(v!, expected.v, `${backend} v`);
      }
    });
  }
  await useBackend("wasm");
  // The op-by-op path (webgl, webgpu, tfjs-node) on wasm's elementwise kernels.
  await expectNoTensorLeak(() => {
    for (const c of samples) {
      const expected = reference(c);
      const [value, m, v] = tf.tidy(() => {
        const variable = tf.variable(tf.tensor1d(c.w), true, `adam-ops-${Math.random()}`);
        const out = composedUpdate(variable, tf.tensor1d(c.g), { m: tf.tensor1d(c.m), v: tf.tensor1d(c.v) }, c.attrs).map((t) =>
          Float32Array.from(t.dataSync()),
        );
        variable.dispose();
        return out;
      });
      for (const [actual, wanted, name] of [[value!, expected.value, "value"], [m!, expected.m, "m"], [v!, expected.v, "v"]] as const) {
        for (let i = 0; i < wanted.length; i++) {
          const tolerance = 1e-6 * Math.max(1, Math.abs(wanted[i]!));
          assert.ok(Math.abs(actual[i]! - wanted[i]!) <= tolerance, `ops ${name}[${i}]: ${actual[i]} vs ${wanted[i]}`);
        }
      }
    }
  });
});

test("FusedAdam follows tfjs's own Adam over several steps, and leaks nothing", async () => {
  await expectNoTensorLeak(() => {
    const init = tf.tensor2d([[0.5, -1.5, 2], [0.25, 3, -0.75]]);
    const ours = tf.variable(init, true, `fused-${Math.random()}`);
    const theirs = tf.variable(init, true, `tfjs-${Math.random()}`);
    init.dispose();
    const fused = new FusedAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, coupledDecay: 0, decoupledDecay: 0 });
    const stock = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    for (let step = 0; step < 8; step++) {
      tf.tidy(() => {
        // A gradient that changes sign and size from step to step.
        const grad = tf.sin(tf.add(tf.mul(ours, 3), step));
        fused.step({ [ours.name]: grad }, [ours], 0.01);
        stock.applyGradients([{ name: theirs.name, tensor: tf.sin(tf.add(tf.mul(theirs, 3), step)) }]);
      });
    }
    const a = ours.dataSync();
    const b = theirs.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `${a} vs ${b}`);
    fused.dispose();
    stock.dispose();
    tf.dispose([ours, theirs]);
  });
});

test("a variable without a gradient keeps its value and moments", async () => {
  await expectNoTensorLeak(() => {
    const [a, b] = tf.tidy(() => [tf.variable(tf.tensor1d([1, 2]), true, `a-${Math.random()}`), tf.variable(tf.tensor1d([3, 4]), true, `b-${Math.random()}`)]);
    const adam = new FusedAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, coupledDecay: 0, decoupledDecay: 0 });
    tf.tidy(() => adam.step({ [a.name]: tf.tensor1d([1, -1]) }, [a, b], 0.1));
    assert.deepEqual(Array.from(b.dataSync()), [3, 4]);
    const moved = Array.from(a.dataSync());
    assert.ok(Math.abs(moved[0]! - 0.9) < 1e-6 && Math.abs(moved[1]! - 2.1) < 1e-6, String(moved));
    adam.dispose();
    tf.dispose([a, b]);
  });
});

/** The float32 chain without the flush: what the kernel computed before subnormal moments were stored as 0. */
function unflushedStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, a: AdamStepAttrs): void {
  const f = Math.fround;
  for (let i = 0; i < w.length; i++) {
    m[i] = f(f(f(a.beta1) * m[i]!) + f(f(a.oneMinusBeta1) * g[i]!));
    v[i] = f(f(f(a.beta2) * v[i]!) + f(f(a.oneMinusBeta2) * f(g[i]! * g[i]!)));
    const denominator = f(f(f(Math.sqrt(v[i]!)) * f(a.secondMomentCorrection)) + f(a.epsilon));
    w[i] = f(w[i]! * f(a.decoupledFactor)) - f(f(f(a.stepSize) * m[i]!) / denominator);
  }
}

test("a moment whose gradient stays 0 reaches 0 instead of sticking at a subnormal, and the weights move exactly as without the flush", () => {
  // Weights of every size a trained layer has; one gradient step, then 3000 steps of exact zeros (a dead unit).
  const w0 = Float32Array.from([0.05, -0.3, 1.5, 1e-3, -2e-6, 7e-12]);
  const first = Float32Array.from([0.02, -1e-3, 4, 1e-6, -3e-2, 5e-4]);
  const flushed = { w: Float32Array.from(w0), m: new Float32Array(6), v: new Float32Array(6) };
  const plain = { w: Float32Array.from(w0), m: new Float32Array(6), v: new Float32Array(6) };
  const zeros = new Float32Array(6);
  let stuckBefore = 0;
  for (let t = 1; t <= 3000; t++) {
    const g = t === 1 ? first : zeros;
    const a = attrsAt(t, 1e-3);
    adamUpdateArrays(flushed.w, g, flushed.m, flushed.v, { value: flushed.w, m: flushed.m, v: flushed.v }, a);
    unflushedStep(plain.w, g, plain.m, plain.v, a);
    for (const x of flushed.m) assert.ok(x === 0 || Math.abs(x) >= 2 ** -126, `step ${t}: stored subnormal moment ${x}`);
  }
  for (const x of plain.m) if (x !== 0 && Math.abs(x) < 2 ** -126) stuckBefore++;
  assert.ok(stuckBefore >= 4, `without the flush, first moments stay subnormal (${stuckBefore} of 6): the case this test is about`);
  assert.deepEqual(Array.from(flushed.m), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(flushed.w), Array.from(plain.w), "the weights are bit for bit those of the unflushed chain");
});

test("NaN moments stay NaN on wasm, cpu and the reference (the flush does not hide them)", async () => {
  const c: Case = {
    w: Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.5]),
    g: Float32Array.from([NaN, 0, 0, 0, NaN]),
    m: Float32Array.from([0, NaN, 0, 0, 0]),
    v: Float32Array.from([0, 0, NaN, 0, 0]),
    attrs: attrsAt(3, 0.01),
  };
  const expected = reference(c);
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    const [value, m, v] = tf.tidy(() => {
      const inputs = { value: tf.tensor1d(c.w), grad: tf.tensor1d(c.g), m: tf.tensor1d(c.m), v: tf.tensor1d(c.v) };
      return (tf.engine().runKernel(ADAM_UPDATE, inputs, c.attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]).map((t) => Array.from(t.dataSync()));
    });
    // Lanes 0-2 and 4 are in the SIMD body or the scalar tail; each NaN input must give NaN where it flows.
    assert.deepEqual(m!.map(Number.isNaN), [true, true, false, false, true], `${backend} m`);
    assert.deepEqual(v!.map(Number.isNaN), [true, false, true, false, true], `${backend} v`);
    assert.deepEqual(value!.map(Number.isNaN), [true, true, true, false, true], `${backend} value`);
    assert.deepEqual(value!.map(Number.isNaN), Array.from(expected.value).map(Number.isNaN));
  }
  await useBackend("wasm");
});
