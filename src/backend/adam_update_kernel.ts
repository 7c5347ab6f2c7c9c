/**
 * One Adam/AdamW step for one variable as a single kernel, for the wasm and
 * cpu backends.
 *
 * tfjs's Adam runs about 14 small kernels per variable and step (moments,
 * bias correction, square root, division, ...). On wasm each kernel costs a
 * dispatch through the engine, so for a small model the optimizer took about
 * a third of a training step. This kernel reads the variable, its gradient
 * and both moments once and writes the three results in one pass.
 *
 * On wasm the loop is relearn's own SIMD module (wasm_kernels/adam_update.wat)
 * working on tfjs's heap; on cpu it is the JS loop below. Both do every
 * operation in float32 in the same order as the op-by-op chain of
 * training/fused_adam.ts (used on the other backends), so all three agree
 * bit for bit.
 */
import * as tf from "@tensorflow/tfjs-core";
import { activeBackendHasKernels, registerCustomKernels } from "./custom_kernels.js";
import { ADAM_UPDATE_WASM } from "./wasm_kernels/adam_update_wasm.js";
import { wasmMemoryOf, type KernelArgs, type WasmBackend } from "./wasm_kernels/wasm_heap.js";

/** The kernel's registered name. */
export const ADAM_UPDATE = "RelearnAdamUpdate";

/** Scalars of one step, the same for every variable. */
export interface AdamStepAttrs {
  beta1: number;
  /** 1 - beta1, passed in so every path rounds it the same way. */
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  epsilon: number;
  /** lr / (1 - beta1^t): the bias-corrected step size. */
  stepSize: number;
  /** 1 / sqrt(1 - beta2^t). */
  secondMomentCorrection: number;
  /** Coupled (L2) weight decay added to the gradient: g + coupledDecay * w. */
  coupledDecay: number;
  /** Decoupled (AdamW) factor applied to the weight first: w * decoupledFactor. */
  decoupledFactor: number;
  /**
   * Write the new moments over the inputs m and v (each value is read before
   * it is written), which are then also the second and third outputs: no new
   * buffers, and the moments stay where the cache has them. Only for a
   * caller that owns m and v and calls the kernel function directly (never
   * through the engine, which would track the inputs' buffers twice):
   * FusedAdam.
   */
  inPlaceMoments?: boolean;
}

/**
 * float32's smallest normal number, 2^-126. Moments below it in magnitude
 * are stored as 0: see flushSubnormal.
 */
export const SMALLEST_NORMAL = 2 ** -126;

/**
 * 0 for a subnormal (|x| < 2^-126), x otherwise (NaN stays NaN). A weight
 * whose gradient stays exactly 0 (a dead ReLU unit, a pixel that is always
 * 0) gets m <- 0.9 m until m is subnormal, and there 0.9 m rounds back to m:
 * the moment stays subnormal for good, and on x86 every SIMD operation on it
 * takes a microcode assist (wasm cannot switch on flush-to-zero). That made
 * Adam up to 5x slower, a quarter of an RD expert's time
 * (docs/performance.md). The weights do not notice: the step a subnormal
 * moment gives, at most lr * 2^-126 / epsilon, is far below float32's
 * resolution of any weight above about 1e-24.
 */
export function flushSubnormal(x: number): number {
  return Math.abs(x) < SMALLEST_NORMAL ? 0 : x;
}

/**
 * The update, element by element (PyTorch's Adam/AdamW), each operation
 * rounded to float32:
 *   g = grad + coupledDecay * w
 *   m' = beta1 m + (1 - beta1) g;  v' = beta2 v + (1 - beta2) (g g)
 *   m', v' flushed to 0 where subnormal (flushSubnormal)
 *   w' = w * decoupledFactor - (stepSize * m') / (sqrt(v') * secondMomentCorrection + epsilon)
 */
export function adamUpdateArrays(
  value: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  out: { value: Float32Array; m: Float32Array; v: Float32Array },
  attrs: AdamStepAttrs,
): void {
  const f = Math.fround;
  const beta1 = f(attrs.beta1);
  const oneMinusBeta1 = f(attrs.oneMinusBeta1);
  const beta2 = f(attrs.beta2);
  const oneMinusBeta2 = f(attrs.oneMinusBeta2);
  const epsilon = f(attrs.epsilon);
  const stepSize = f(attrs.stepSize);
  const correction = f(attrs.secondMomentCorrection);
  const coupledDecay = f(attrs.coupledDecay);
  const decoupledFactor = f(attrs.decoupledFactor);
  for (let i = 0; i < value.length; i++) {
    const w = value[i]!;
    const g = f(grad[i]! + f(coupledDecay * w));
    const m1 = flushSubnormal(f(f(beta1 * m[i]!) + f(oneMinusBeta1 * g)));
    const v1 = flushSubnormal(f(f(beta2 * v[i]!) + f(oneMinusBeta2 * f(g * g))));
    out.m[i] = m1;
    out.v[i] = v1;
    const denominator = f(f(f(Math.sqrt(v1)) * correction) + epsilon);
    out.value[i] = f(w * decoupledFactor) - f(f(stepSize * m1) / denominator);
  }
}

type AdamExport = (...args: number[]) => void;
/** The SIMD module instantiated on each wasm memory it was used with. */
const adamOnMemory = new WeakMap<WebAssembly.Memory, AdamExport>();

function adamExportFor(memory: WebAssembly.Memory): AdamExport {
  let adam = adamOnMemory.get(memory);
  if (adam === undefined) {
    const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    const bytes = Uint8Array.from(atob(shared ? ADAM_UPDATE_WASM.shared : ADAM_UPDATE_WASM.plain), (c) => c.charCodeAt(0));
    // The module is under 1 KB, so compiling it synchronously is allowed everywhere.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    adam = instance.exports.adam as AdamExport;
    adamOnMemory.set(memory, adam);
  }
  return adam;
}

type Inputs = { value: tf.TensorInfo; grad: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };

function checkInputs(inputs: tf.NamedTensorInfoMap): Inputs {
  const { value, grad, m, v } = inputs as Partial<Inputs>;
  if (value === undefined || grad === undefined || m === undefined || v === undefined) {
    throw new Error(`${ADAM_UPDATE} needs the inputs value, grad, m and v`);
  }
  const size = tf.util.sizeFromShape(value.shape);
  for (const [name, info] of Object.entries({ grad, m, v })) {
    if (info.dtype !== "float32" || tf.util.sizeFromShape(info.shape) !== size) {
      throw new Error(`${ADAM_UPDATE}: ${name} must be float32 of ${size} values like the variable; got ${info.dtype} ${JSON.stringify(info.shape)}`);
    }
  }
  return { value, grad, m, v };
}

function wasmAdamUpdate({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const wasm = backend as WasmBackend;
  const { value, grad, m, v } = checkInputs(inputs);
  const inPlace = (attrs as unknown as AdamStepAttrs).inPlaceMoments === true;
  const outputs = [value, m, v].map((info, i) => (inPlace && i > 0 ? info : wasm.makeOutput(info.shape, "float32")));
  const offset = (info: tf.TensorInfo): number => wasm.dataIdMap.get(info.dataId)!.memoryOffset;
  const a = attrs as unknown as AdamStepAttrs;
  adamExportFor(wasmMemoryOf(wasm))(
    ...[value, grad, m, v, ...outputs].map(offset),
    tf.util.sizeFromShape(value.shape),
    a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.epsilon, a.stepSize, a.secondMomentCorrection, a.coupledDecay, a.decoupledFactor,
  );
  return outputs;
}

function cpuAdamUpdate({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const cpu = backend as tf.KernelBackend & {
    data: { get(dataId: tf.DataId): { values: tf.backend_util.BackendValues } };
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
  };
  const { value, grad, m, v } = checkInputs(inputs);
  const read = (info: tf.TensorInfo): Float32Array => cpu.data.get(info.dataId).values as Float32Array;
  const size = tf.util.sizeFromShape(value.shape);
  const a = attrs as unknown as AdamStepAttrs;
  if (a.inPlaceMoments === true) {
    // adamUpdateArrays reads m[i] and v[i] before it writes them.
    const out = { value: new Float32Array(size), m: read(m), v: read(v) };
    adamUpdateArrays(read(value), read(grad), read(m), read(v), out, a);
    return [cpu.makeTensorInfo(value.shape, "float32", out.value), m, v];
  }
  const out = { value: new Float32Array(size), m: new Float32Array(size), v: new Float32Array(size) };
  adamUpdateArrays(read(value), read(grad), read(m), read(v), out, a);
  return [cpu.makeTensorInfo(value.shape, "float32", out.value), cpu.makeTensorInfo(m.shape, "float32", out.m), cpu.makeTensorInfo(v.shape, "float32", out.v)];
}

/** Registers the kernel for "wasm" and "cpu" (idempotent). */
export function registerAdamUpdateKernel(): void {
  registerCustomKernels([
    { kernelName: ADAM_UPDATE, backendName: "wasm", kernelFunc: wasmAdamUpdate },
    { kernelName: ADAM_UPDATE, backendName: "cpu", kernelFunc: cpuAdamUpdate },
  ]);
}

/** Whether the active backend has the fused kernel. */
export function hasAdamUpdateKernel(): boolean {
  return activeBackendHasKernels([ADAM_UPDATE]);
}
