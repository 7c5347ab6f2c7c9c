/**
 * The whole-step path: forward, loss and backward of a plain MLP
 * (model/dense_chain.ts) by calling the active backend's registered kernels
 * directly on TensorInfos (kernel_calls.ts), with no gradient tape and no
 * Tensor objects in between. The loss is one of step_losses.ts (softmax
 * cross-entropy, RD's double distillation): each gives the mean loss and its
 * gradient with respect to the logits; the rest of the step is the same for
 * all.
 *
 * Why: at batch 32 an MLP step is about 90 kernel dispatches through the
 * tfjs engine, and the engine's bookkeeping (a Tensor per output, the tape,
 * tidy scopes, and a COPY of every input the tape saves for the backward
 * pass: the weights, the batch, each activation) costs more than the small
 * products themselves. Here each kernel is one function call, and the
 * temporaries are freed as soon as the step is done with them.
 *
 * Bit for bit the same as the general path (tf.variableGrads over
 * ContinualModel's op chain with the loss, then tf.mean): it calls
 * the same registered kernels (relearn's wasm overrides included) with the
 * same inputs and attributes as tfjs's ops and gradient functions do, in the
 * same order. Kernels that only move or reshape data (Reshape, Identity,
 * float-to-float Cast, multiplications by ones) are left out: they do not
 * change a value. The gradient of the mean loss with respect to the logits
 * is built the way the tape builds it (step_losses.ts).
 *
 * The caller gets the mean loss and the logits as Tensors (for the logs and
 * metrics) and one gradient Tensor per variable, and runs the optimizer as
 * on the general path. Works on any backend whose kernels take TensorInfos
 * (wasm, cpu); the training loop uses it there only.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { DenseChainStep } from "../model/dense_chain.js";
import type { BatchTensors } from "./batch_tensors.js";
import { BIAS_RELU, RELU_BIAS_GRAD, hasDenseReluKernels } from "../backend/dense_relu_kernels.js";
import { KernelCalls, view } from "./kernel_calls.js";
import type { StepLoss } from "./step_losses.js";

let enabled = true;

/**
 * Turns the whole-step path on or off (on by default). Only the benchmarks
 * and tests turn it off, to measure or compare the general path.
 */
export function setDenseChainStepEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the training loop may use the whole-step path. */
export function denseChainStepEnabled(): boolean {
  return enabled;
}

let fuseDenseRelu = true;

/**
 * Turns the fused bias + ReLU kernels (backend/dense_relu_kernels.ts, wasm)
 * on or off (on by default): same values either way; off only to measure
 * what they save (docs/performance.md).
 */
export function setDenseReluFusionEnabled(on: boolean): void {
  fuseDenseRelu = on;
}

/** The backends whose kernels the path calls directly. */
const BACKENDS = new Set(["wasm", "cpu"]);

/** Whether the active backend can run the path. */
export function backendRunsDenseChainStep(): boolean {
  return BACKENDS.has(tf.getBackend());
}

/** What one step computed: the caller owns (and disposes) every tensor. */
export interface DenseChainStepResult {
  /** Mean loss over the batch's rows (what tf.variableGrads returns as `value`). */
  value: tf.Scalar;
  /** The logits the loss saw (with the class mask added, when one is given). */
  logits: tf.Tensor2D;
  /** Gradient of `value` for each dense kernel and bias, keyed by variable name. */
  grads: tf.NamedTensorMap;
}

const PLAIN = { transposeA: false, transposeB: false };

/**
 * One step's loss, logits and gradients for `steps` on the batch (`x`:
 * rows x features, plus what `loss` reads: the labels or the targets);
 * `maskBias` ((1, C): 0 or -1e9) is added to the logits first, as the
 * training loop's class mask.
 */
export function denseChainStep(
  steps: readonly DenseChainStep[],
  loss: StepLoss,
  batch: BatchTensors,
  maskBias: tf.Tensor2D | null,
): DenseChainStepResult {
  const k = new KernelCalls();
  const x = batch.x;
  const rows = x.shape[0]!;
  const dropoutMasks: tf.Tensor[] = [];
  const scalars: tf.Tensor[] = [];
  try {
    // Forward: each step's input is kept for the backward pass (no copies: nothing overwrites a buffer).
    const inputs: tf.TensorInfo[] = [];
    const variables: Array<{ kernel: tf.Variable; bias: tf.Variable | null } | null> = [];
    // A Dense with a bias followed by a ReLU runs as one kernel each way where the backend has them; the ReLU
    // step's backward then reads the ReLU's output (kept here by the ReLU's index), not its input.
    const fuse = fuseDenseRelu && hasDenseReluKernels();
    const fusedReluOutputs = new Map<number, tf.TensorInfo>();
    let a: tf.TensorInfo = x;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      inputs.push(a);
      variables.push(null);
      switch (step.kind) {
        case "dense": {
          const kernel = step.kernel.read();
          const bias = step.bias?.read() ?? null;
          variables[i] = { kernel, bias };
          const product = k.run(tf.BatchMatMul, { a, b: kernel }, PLAIN);
          if (fuse && bias !== null && steps[i + 1]?.kind === "relu" && product.shape.length === 2) {
            a = k.run(BIAS_RELU, { x: product, bias });
            i++;
            inputs.push(a); // not read: the fused ReLU's backward reads its output
            variables.push(null);
            fusedReluOutputs.set(i, a);
            break;
          }
          a = bias === null ? product : k.run(tf.Add, { a: product, b: bias });
          break;
        }
        case "relu":
          a = k.run(tf.Relu, { x: a });
          break;
        case "dropout": {
          // The multiplier exactly as tf.dropout draws it (seeded, on the CPU side).
          const keepProb = 1 - step.rate;
          const seed = step.seed();
          const shape = a.shape;
          const multiplier = tf.tidy(() => tf.div(tf.floor(tf.add(tf.randomUniform(shape, 0, 1, "float32", seed), keepProb)), keepProb));
          dropoutMasks.push(multiplier);
          a = k.run(tf.Multiply, { a, b: multiplier });
          break;
        }
        case "flatten":
          if (a.shape.length > 2) a = view(a, [rows, tf.util.sizeFromShape(a.shape.slice(1))]);
          break;
      }
    }
    const logits = maskBias === null ? a : k.run(tf.Add, { a, b: maskBias });
    const { mean, dLogits } = loss.meanAndGradient(k, logits, batch, scalars);
    let d = dLogits;

    // Backward, last step first; input gradients only while an earlier step has weights.
    const grads: Record<string, tf.TensorInfo> = {};
    const firstDense = steps.findIndex((step) => step.kind === "dense");
    for (let i = steps.length - 1; i >= firstDense; i--) {
      const step = steps[i]!;
      const input = inputs[i]!;
      switch (step.kind) {
        case "dense": {
          const { kernel, bias } = variables[i]!;
          // A fused ReLU after this layer computed the bias gradient already.
          if (bias !== null && !fusedReluOutputs.has(i + 1)) grads[bias.name] = k.run(tf.Sum, { x: d }, { axis: [0], keepDims: false });
          const dInput = i > firstDense ? k.run(tf.BatchMatMul, { a: d, b: kernel }, { transposeA: false, transposeB: true }) : null;
          grads[kernel.name] = k.run(tf.BatchMatMul, { a: input, b: d }, { transposeA: true, transposeB: false });
          if (dInput !== null) d = dInput;
          break;
        }
        case "relu": {
          const output = fusedReluOutputs.get(i);
          if (output === undefined) {
            d = k.run(tf.Multiply, { a: d, b: k.run(tf.Step, { x: input }, { alpha: 0 }) });
            break;
          }
          // Through the ReLU, and the bias gradient of the Dense before it, in one kernel.
          const [dx, dBias] = k.runAll(RELU_BIAS_GRAD, { dy: d, y: output });
          grads[variables[i - 1]!.bias!.name] = dBias!;
          d = dx!;
          break;
        }
        case "dropout":
          d = k.run(tf.Multiply, { a: d, b: dropoutMasks[dropoutIndex(steps, i)]! });
          break;
        case "flatten":
          d = view(d, input.shape);
          break;
      }
    }
    const result: DenseChainStepResult = {
      value: k.keep<tf.Scalar>(mean),
      logits: k.keep<tf.Tensor2D>(logits),
      // In the model's weight order (each Dense's kernel, then its bias), as tf.variableGrads keys them:
      // gradient clipping by global norm sums the squares in this order.
      grads: Object.fromEntries(
        variables
          .flatMap((pair) => (pair === null ? [] : [pair.kernel, ...(pair.bias === null ? [] : [pair.bias])]))
          .map((variable) => [variable.name, k.keep(grads[variable.name]!)]),
      ),
    };
    return result;
  } finally {
    k.releaseAll();
    tf.dispose([...dropoutMasks, ...scalars]);
  }
}

/**
 * The training loop's default batch logs of a whole step: the loss summed
 * over the rows (`mean * rows`) and the number of rows whose arg-max is the
 * label (metrics.ts's correctCount), by the kernels tfjs's ops run for them
 * (so the same values), without the engine. The caller owns both scalars.
 */
export function defaultStepLogs(result: DenseChainStepResult, labels: tf.Tensor1D): { loss: tf.Scalar; accuracy: tf.Scalar } {
  const k = new KernelCalls();
  const rows = tf.scalar(labels.shape[0]);
  try {
    const loss = k.run(tf.Multiply, { a: result.value, b: rows });
    const hits = k.run(tf.Equal, { a: k.run(tf.ArgMax, { x: result.logits }, { axis: 1 }), b: labels });
    const correct = k.run(tf.Sum, { x: k.run(tf.Cast, { x: hits }, { dtype: "float32" }) }, { axis: null, keepDims: false });
    return { loss: k.keep<tf.Scalar>(loss), accuracy: k.keep<tf.Scalar>(correct) };
  } finally {
    k.releaseAll();
    rows.dispose();
  }
}

/** Index among the dropout steps of step `i` (the order their masks were drawn in). */
function dropoutIndex(steps: readonly DenseChainStep[], i: number): number {
  return steps.slice(0, i).filter((step) => step.kind === "dropout").length;
}
