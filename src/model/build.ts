/**
 * ModelSpec -> tfjs-layers body (input -> features). The heads are added by
 * ContinualModel. Layer names are fixed ("dense_0", "conv_1", ...) so saved
 * files do not depend on how many models the process built before.
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { layerInitializers } from "./initializers.js";
import type { CnnSpec, MlpSpec, ModelSpec } from "./spec.js";

type Symbolic = tfl.SymbolicTensor;

/** Builds the functional body model of a spec (weights not yet seeded). */
export function buildBody(spec: ModelSpec): tfl.LayersModel {
  const input = tfl.input({ shape: spec.inputShape, name: "input" });
  const features = spec.type === "mlp" ? mlpBody(spec, input) : cnnBody(spec, input);
  return tfl.model({ inputs: input, outputs: features, name: "body" });
}

function mlpBody(spec: MlpSpec, input: Symbolic): Symbolic {
  let x = input;
  if (spec.inputShape.length > 1) x = apply(tfl.layers.flatten({ name: "flatten" }), x);
  return denseStack(spec, spec.hidden, x);
}

function cnnBody(spec: CnnSpec, input: Symbolic): Symbolic {
  let x = input;
  spec.conv.forEach((block, i) => {
    const stride = block.stride ?? 1;
    x = apply(
      tfl.layers.conv2d({
        filters: block.filters,
        kernelSize: block.kernelSize,
        strides: stride,
        padding: "same",
        name: `conv_${i}`,
        ...layerInitializers(spec.initializer, lastDim(x) * block.kernelSize * block.kernelSize),
      }),
      x,
    );
    if (spec.batchNorm === true) x = apply(tfl.layers.batchNormalization({ name: `conv_${i}_batch_norm` }), x);
    x = apply(tfl.layers.activation({ activation: spec.activation ?? "relu", name: `conv_${i}_${spec.activation ?? "relu"}` }), x);
    if (block.pool === true) x = apply(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: "valid", name: `conv_${i}_pool` }), x);
  });
  x = apply(tfl.layers.flatten({ name: "flatten" }), x);
  return denseStack(spec, spec.dense, x);
}

function denseStack(spec: ModelSpec, widths: readonly number[], input: Symbolic): Symbolic {
  let x = input;
  const activation = spec.activation ?? "relu";
  widths.forEach((units, i) => {
    x = apply(tfl.layers.dense({ units, name: `dense_${i}`, ...layerInitializers(spec.initializer, lastDim(x)) }), x);
    if (spec.batchNorm === true) x = apply(tfl.layers.batchNormalization({ name: `dense_${i}_batch_norm` }), x);
    x = apply(tfl.layers.activation({ activation, name: `dense_${i}_${activation}` }), x);
    if (spec.dropout !== undefined && spec.dropout > 0) {
      x = apply(tfl.layers.dropout({ rate: spec.dropout, name: `dense_${i}_dropout` }), x);
    }
  });
  return x;
}

/** The size of the last axis of `x` (a dense layer's inputs, a conv layer's channels). */
export function lastDim(x: Symbolic): number {
  const size = x.shape[x.shape.length - 1];
  if (typeof size !== "number") throw new RangeError(`the last axis of ${x.name} has no fixed size`);
  return size;
}

function apply(layer: { apply(x: Symbolic): unknown }, x: Symbolic): Symbolic {
  return layer.apply(x) as Symbolic;
}
