/**
 * The training forward pass of a plain layer chain (Dense, Conv2D,
 * MaxPooling2D, Activation, Dropout, Flatten: every MLP relearn builds and
 * every CNN without batch norm) as tfjs ops on the layers' own variables,
 * instead of through tfjs-layers' `apply`.
 *
 * Why: tfjs-layers runs Dense as `fused.matMul`, whose gradient is a
 * custom gradient that computes the gradient of every input eagerly,
 * including the input of the first layer, which nothing needs (a
 * [batch x 256] x [256 x 784] matmul plus a transpose of the weights for a
 * 784-256-256-10 MLP); Conv2D likewise runs `fused.conv2d`, whose gradient
 * computes the image's gradient (a whole backward convolution of the first
 * layer, about 7% of a small CNN's step). With plain `matMul` (`conv2d`) +
 * `add`, tfjs's tape computes
 * only the gradients that lead to a variable. It also skips tfjs-layers'
 * per-call bookkeeping (about 50 Reshape/Identity kernels per step). Measured
 * on wasm, batch 32: a training step goes from about 5.0 to 3.9 ms.
 *
 * The result is the same function: Dense = x W + b then its activation
 * (the layer's own activation object), Conv2D = conv2d(x, W) + b then its
 * activation (channels-last, "same" or "valid", no dilation), MaxPooling2D =
 * maxPool with the layer's window, strides and padding, Dropout = tf.dropout with the layer's
 * rate and seed (what tfjs-layers calls, so the masks are the same), Flatten
 * = reshape to [batch, -1]. Only the order of the bias addition differs
 * from the fused kernel, a float rounding difference. Any other layer (or a
 * branching model) gives `null`, and the caller keeps using `apply`.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { LayerInternals } from "./dense_chain.js";
import { canFuseConvBiasRelu, convBiasRelu, convBiasReluPool } from "./conv_bias_relu.js";

type Layer = tfl.layers.Layer;
/**
 * One layer's forward as ops: input -> output. `fused`, when set, is this
 * layer and the next `span - 1` ones in one go (a Conv2D with a bias, its
 * ReLU and maybe its 2x2 max-pool, on wasm: conv_bias_relu.ts);
 * runChainRecording uses it unless the output of one of those layers but
 * the last is to be recorded, and only where it can run.
 */
type Step = ((input: tf.Tensor, training: boolean) => tf.Tensor) & { fused?: FusedLayers };
/** Consecutive layers run together; `available` says whether the active backend can. */
interface FusedLayers {
  span: number;
  available: () => boolean;
  run: (input: tf.Tensor, training: boolean) => tf.Tensor;
}
/** A compiled chain: the steps in order. */
export type ChainForward = readonly Step[];


let enabled = true;

/**
 * Turns the op chain on or off for every model (on by default). Only the
 * benchmarks turn it off, to measure tfjs-layers' own forward.
 */
export function setChainForwardEnabled(on: boolean): void {
  enabled = on;
}

/** Whether ContinualModel may use the op chain. */
export function chainForwardEnabled(): boolean {
  return enabled;
}

/** Runs a compiled chain on `input`. */
export function runChain(chain: ChainForward, input: tf.Tensor, training: boolean): tf.Tensor {
  return runChainRecording(chain, input, training, []).output;
}

/**
 * Runs a compiled chain on `input` and also returns the output of each step
 * listed in `steps` (indices into the chain, in the order listed): the
 * intermediate activations a feature distillation reads (POD-ER).
 */
export function runChainRecording(
  chain: ChainForward,
  input: tf.Tensor,
  training: boolean,
  steps: readonly number[],
): { output: tf.Tensor; recorded: tf.Tensor[] } {
  const outputs: tf.Tensor[] = [];
  let output = input;
  for (let index = 0; index < chain.length; index++) {
    const step = chain[index]!;
    const fused = step.fused;
    if (fused !== undefined && index + fused.span <= chain.length && !steps.some((i) => i >= index && i < index + fused.span - 1) && fused.available()) {
      // Only the last fused layer's output may be recorded: it stands in for all of them.
      output = fused.run(output, training);
      if (steps.length > 0) for (let i = 0; i < fused.span; i++) outputs.push(output);
      index += fused.span - 1;
      continue;
    }
    output = step(output, training);
    if (steps.length > 0) outputs.push(output);
  }
  return { output, recorded: steps.map((i) => outputs[i]!) };
}

/** The layers of a model's chain, in order: every layer but an InputLayer (one step each in compileModelChain). */
export function chainLayers(model: tfl.LayersModel): Layer[] {
  return model.layers.filter((layer) => layer.getClassName() !== "InputLayer");
}

/**
 * The steps of `model`'s layers when they form one unbranched chain of
 * supported layers (an InputLayer first is skipped); otherwise null.
 */
export function compileModelChain(model: tfl.LayersModel): ChainForward | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const layers = chainLayers(model);
  for (const [index, layer] of layers.entries()) {
    const nodes = (layer as unknown as { inboundNodes: Array<{ inboundLayers: Layer[] }> }).inboundNodes;
    if (nodes.length !== 1 || nodes[0]?.inboundLayers.length !== 1) return null;
    const source = nodes[0].inboundLayers[0]!;
    const expected = index === 0 ? undefined : layers[index - 1];
    if (expected === undefined ? source.getClassName() !== "InputLayer" : source !== expected) return null;
  }
  const last = layers.at(-1);
  if (last === undefined || model.outputs[0]?.sourceLayer !== last) return null;
  return compileLayers(layers);
}

/** The steps of `layers` applied one after another; null if one is not supported. */
export function compileLayers(layers: readonly Layer[]): ChainForward | null {
  const steps: Step[] = [];
  for (const [index, layer] of layers.entries()) {
    const step = compileLayer(layer);
    if (step === null) return null;
    const fused = fusedConvBiasRelu(layer, layers[index + 1], layers[index + 2]);
    if (fused !== null) step.fused = fused;
    steps.push(step);
  }
  return steps;
}

/**
 * A Conv2D with a bias and no activation of its own followed by a ReLU
 * Activation layer (relearn's cnn() blocks without batch norm), and by a 2x2
 * max-pool of stride 2, "valid", if one comes next: conv2d, then bias + ReLU
 * (+ pool) in one kernel each way (conv_bias_relu.ts, wasm only); null for
 * any other layers.
 */
function fusedConvBiasRelu(layer: Layer, next: Layer | undefined, after: Layer | undefined): FusedLayers | null {
  if (next === undefined || layer.getClassName() !== "Conv2D" || next.getClassName() !== "Activation") return null;
  const { kernel, bias, activation, strides, padding } = layer as unknown as LayerInternals & ConvInternals;
  const nextActivation = (next as unknown as LayerInternals).activation;
  if (kernel == null || bias == null || activation?.getClassName() !== "linear" || nextActivation?.getClassName() !== "relu") return null;
  if (padding !== "same" && padding !== "valid") return null;
  const conv = (input: tf.Tensor): tf.Tensor => tf.conv2d(input as tf.Tensor4D, kernel.read() as tf.Tensor4D, strides as [number, number], padding);
  const pool = after as unknown as (LayerInternals & ConvInternals & { poolSize?: number[] }) | undefined;
  const pooled =
    after?.getClassName() === "MaxPooling2D" &&
    pool?.dataFormat === "channelsLast" &&
    pool.padding === "valid" &&
    tf.util.arraysEqual(pool.poolSize ?? [], [2, 2]) &&
    tf.util.arraysEqual(pool.strides ?? [], [2, 2]);
  if (pooled) return { span: 3, available: canFuseConvBiasRelu, run: (input) => convBiasReluPool(conv(input), bias.read()) };
  return { span: 2, available: canFuseConvBiasRelu, run: (input) => convBiasRelu(conv(input), bias.read()) };
}

function compileLayer(layer: Layer): Step | null {
  const fields = layer as unknown as LayerInternals;
  switch (layer.getClassName()) {
    case "Dense": {
      const { kernel, bias, activation } = fields;
      // A Dense on rank > 2 inputs contracts the last axis only; leave it to tfjs-layers.
      const inputShape = symbolicInputShape(layer);
      if (kernel == null || activation === undefined || inputShape?.length !== 2) return null;
      const linear = activation.getClassName() === "linear";
      return (input) => {
        const product = tf.matMul(input as tf.Tensor2D, kernel.read() as tf.Tensor2D);
        const output = bias == null ? product : tf.add(product, bias.read());
        return linear ? output : activation.apply(output);
      };
    }
    case "Activation": {
      const { activation } = fields;
      if (activation === undefined) return null;
      return (input) => activation.apply(input);
    }
    case "Dropout": {
      const { rate, noiseShape } = fields;
      if (typeof rate !== "number" || noiseShape != null) return null;
      // Read the seed at each call: ContinualModel reseeds dropout layers every step.
      const seedOf = (): number | undefined => (layer as unknown as { seed?: number }).seed;
      return (input, training) => (training && rate > 0 && rate < 1 ? tf.dropout(input, rate, undefined, seedOf()) : input);
    }
    case "Conv2D": {
      // tfjs-layers runs conv2d as fused.conv2d, whose custom gradient also
      // computes the gradient of the first layer's input (the image, which
      // nothing needs) and copies what it saves; conv2d + add lets the tape
      // compute only what leads to a variable.
      const { kernel, bias, activation, strides, padding, dilationRate } = fields as LayerInternals & ConvInternals;
      if (kernel == null || activation === undefined || fields.dataFormat !== "channelsLast") return null;
      if (padding !== "same" && padding !== "valid") return null;
      if ((dilationRate ?? [1, 1]).some((d) => d !== 1)) return null;
      const linear = activation.getClassName() === "linear";
      return (input) => {
        const conv = tf.conv2d(input as tf.Tensor4D, kernel.read() as tf.Tensor4D, strides as [number, number], padding);
        const output = bias == null ? conv : tf.add(conv, bias.read());
        return linear ? output : activation.apply(output);
      };
    }
    case "MaxPooling2D": {
      const { poolSize, strides, padding } = fields as LayerInternals & ConvInternals;
      if (fields.dataFormat !== "channelsLast" || poolSize === undefined || (padding !== "same" && padding !== "valid")) return null;
      return (input) => tf.maxPool(input as tf.Tensor4D, poolSize, strides as [number, number], padding);
    }
    case "Flatten": {
      if (fields.dataFormat === "channelsFirst") return null;
      return (input) => (input.rank <= 2 ? input : tf.reshape(input, [input.shape[0] ?? -1, -1]));
    }
    default:
      return null;
  }
}

/** The fields of tfjs-layers' Conv2D and MaxPooling2D the chain reads. */
interface ConvInternals {
  strides?: number[];
  padding?: string;
  dilationRate?: number[];
  poolSize?: [number, number];
}

/** The shape of the layer's symbolic input, or undefined when it has none or several (tfjs throws then). */
function symbolicInputShape(layer: Layer): readonly (number | null)[] | undefined {
  try {
    const input = layer.input;
    return Array.isArray(input) ? undefined : input.shape;
  } catch {
    return undefined;
  }
}
