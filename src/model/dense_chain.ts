/**
 * A plain MLP's layers as the few operations the whole-step training path
 * (training/dense_chain_step.ts) knows how to differentiate by hand: dense
 * (x W + b), ReLU, dropout and flatten. Any other layer or activation gives
 * `null`, and the training loop keeps its general path.
 *
 * The steps hold the layers' weight holders, not their current tensors: the
 * optimizer replaces a variable's buffer every step, so each step reads them
 * again. Which layers form an unbranched chain is decided by the caller
 * (ContinualModel, with chain_forward.ts's structural check); this file only
 * maps each layer to its operations.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** A weight of a layer: `read()` gives its current variable. */
export interface WeightHolder {
  read(): tf.Variable;
}

/**
 * The internals of a tfjs-layers layer that the op-chain compilers read (chain_forward.ts and this file): not in
 * tfjs-layers' public types, so typed here once; a tfjs upgrade that renames them breaks both compilers' tests.
 */
export interface LayerInternals {
  kernel?: WeightHolder | null;
  bias?: WeightHolder | null;
  activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor };
  rate?: number;
  noiseShape?: unknown;
  dataFormat?: string;
}

/** One operation of the chain, in forward order. */
export type DenseChainStep =
  | { kind: "dense"; kernel: WeightHolder; bias: WeightHolder | null }
  | { kind: "relu" }
  /** tf.dropout with the layer's rate and the seed the layer holds at call time (ContinualModel reseeds it every step). */
  | { kind: "dropout"; rate: number; seed: () => number | undefined }
  | { kind: "flatten" };

/** The operations of `layers` applied one after another; null if one is not supported. */
export function denseChainSteps(layers: readonly tfl.layers.Layer[]): DenseChainStep[] | null {
  const steps: DenseChainStep[] = [];
  for (const layer of layers) {
    const own = layerSteps(layer);
    if (own === null) return null;
    steps.push(...own);
  }
  return steps.some((step) => step.kind === "dense") ? steps : null;
}

function layerSteps(layer: tfl.layers.Layer): DenseChainStep[] | null {
  const fields = layer as unknown as LayerInternals;
  switch (layer.getClassName()) {
    case "Dense": {
      const { kernel, bias, activation } = fields;
      if (kernel == null || activation === undefined) return null;
      const own = activationSteps(activation.getClassName());
      return own === null ? null : [{ kind: "dense", kernel, bias: bias ?? null }, ...own];
    }
    case "Activation":
      return fields.activation === undefined ? null : activationSteps(fields.activation.getClassName());
    case "Dropout": {
      const { rate, noiseShape } = fields;
      if (typeof rate !== "number" || noiseShape != null) return null;
      if (!(rate > 0 && rate < 1)) return []; // chain_forward.ts: no dropout at these rates
      return [{ kind: "dropout", rate, seed: () => (layer as unknown as { seed?: number }).seed }];
    }
    case "Flatten":
      return fields.dataFormat === "channelsFirst" ? null : [{ kind: "flatten" }];
    default:
      return null;
  }
}

/** tfjs-layers activation class name -> steps (ReLU and linear only). */
function activationSteps(className: string): DenseChainStep[] | null {
  if (className === "linear") return [];
  if (className === "Relu" || className === "relu") return [{ kind: "relu" }];
  return null;
}
