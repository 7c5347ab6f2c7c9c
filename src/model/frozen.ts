/**
 * What "frozen" means for relearn, in one place. tfjs marks a weight frozen
 * with `trainable: false` on its layer, on an enclosing layer or model, or on
 * the weight itself; layers also keep state they create non-trainable (batch
 * norm moving mean/variance). The rule:
 * - a weight the optimizer trains (in `root.trainableWeights`) is re-drawn
 *   by a re-initialisation;
 * - a frozen weight is kept bit for bit: it is pre-trained knowledge that no
 *   training would restore;
 * - a layer's state is reset by a re-initialisation when its layer trains
 *   (it describes the model being replaced) and kept when the layer is
 *   frozen; a frozen layer with state also runs in inference mode while the
 *   rest trains, so training does not move that state either (the Keras
 *   convention for a frozen BatchNormalization);
 * - any weight the rule cannot place is kept: keeping is never worse than
 *   silently destroying what a user loaded.
 * tfjs keeps a layer's own trainable and state weights apart only in the
 * `_trainableWeights` / `_nonTrainableWeights` fields read here.
 */
import type * as tfl from "@tensorflow/tfjs-layers";

/** Any tfjs-layers layer (the class itself is not exported at the top level). */
export type Layer = tfl.LayersModel["layers"][number];
type Weight = tfl.LayerVariable;

/**
 * The weights of `root` a re-initialisation re-draws: the trainable ones,
 * plus the state weights of layers that train. `insideFrozen`: a model
 * enclosing `root` is frozen.
 */
export function redrawnWeights(root: Layer, insideFrozen = false): Set<Weight> {
  const redrawn = new Set<Weight>(insideFrozen ? [] : root.trainableWeights);
  for (const [layer, frozen] of frozenLayers(root, insideFrozen)) {
    if (!frozen) for (const weight of ownWeights(layer).state) redrawn.add(weight);
  }
  return redrawn;
}

/**
 * Layers of `root` that are frozen and keep state (batch norm): a training
 * forward pass must run them in inference mode.
 */
export function frozenStatefulLayers(root: Layer, insideFrozen = false): Layer[] {
  return [...frozenLayers(root, insideFrozen)].filter(([layer, frozen]) => frozen && ownWeights(layer).state.length > 0).map(([layer]) => layer);
}

/** Every layer inside `root` (itself included) -> whether it or anything enclosing it is frozen. */
function frozenLayers(root: Layer, insideFrozen: boolean): Map<Layer, boolean> {
  const frozenOf = new Map<Layer, boolean>();
  const visit = (layer: Layer, frozenAbove: boolean): void => {
    const frozen = frozenAbove || !layer.trainable;
    // A layer reached both through a frozen and a trainable path counts as frozen.
    if (frozenOf.has(layer) && (frozenOf.get(layer) === true || !frozen)) return;
    frozenOf.set(layer, frozen);
    for (const child of childLayers(layer)) visit(child, frozen);
  };
  visit(root, insideFrozen);
  return frozenOf;
}

/**
 * The weights a layer created itself, in creation order whatever their
 * `trainable` flags (`layer.weights` puts the currently trainable ones
 * first): those it creates trainable, and its state, created non-trainable.
 * tfjs keeps the two apart only in these fields; a sub-model holds none.
 */
export function ownWeights(layer: Layer): { trainable: Weight[]; state: Weight[] } {
  const fields = layer as unknown as { _trainableWeights?: Weight[]; _nonTrainableWeights?: Weight[] };
  return { trainable: fields._trainableWeights ?? [], state: fields._nonTrainableWeights ?? [] };
}

/** The layer and every layer-like object inside it (RNN cells, wrapped layers, sub-models). */
export function reachableLayers(root: Layer): Layer[] {
  const seen = new Set<object>([root]);
  const queue: Layer[] = [root];
  for (let i = 0; i < queue.length; i++) {
    for (const candidate of childLayers(queue[i]!)) {
      if (!seen.has(candidate)) {
        seen.add(candidate);
        queue.push(candidate);
      }
    }
  }
  return queue;
}

/** Layer-like objects held directly by `node` (a sub-model's layers, an RNN's cell, a wrapper's layer). */
function childLayers(node: Layer): Layer[] {
  const children: Layer[] = [];
  for (const value of Object.values(node)) {
    for (const candidate of Array.isArray(value) ? value : [value]) {
      if (isLayerLike(candidate) && candidate !== node) children.push(candidate);
    }
  }
  return children;
}

function isLayerLike(value: unknown): value is Layer {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Layer>;
  return typeof candidate.getClassName === "function" && typeof candidate.apply === "function" && "trainableWeights" in candidate;
}

