/**
 * Re-initialising tfjs layers IN PLACE with seeded copies of their own
 * initializers. Works for any layer, including users' layers: tfjs keeps no
 * weight -> initializer map, so we find, for each weight, the object that
 * holds it (the layer itself, an RNN cell, a wrapped or nested layer) and the
 * property holding it (`kernel`, `recurrentKernel`, `movingMean`, ...); its
 * initializer is then `<property>Initializer` or, for `xxxKernel`,
 * `xxxInitializer` (that is how every tfjs layer names them). The
 * initializer is re-created through tfjs serialization (className + config)
 * with a `seed`, so the same seed gives bitwise the same weights.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { ModelError } from "../errors.js";
import { deriveSeed } from "../random.js";
// tfjs-layers initializers (Orthogonal) call chained tensor methods.
import "../backend/chained_ops.js";

/** Any tfjs-layers layer (the class itself is not exported at the top level). */
export type Layer = tfl.LayersModel["layers"][number];
type Weight = tfl.LayerVariable;
type Initializer = { getClassName(): string; getConfig(): tf.serialization.ConfigDict; apply(shape: number[], dtype?: tf.DataType): tf.Tensor };

/**
 * Gives every weight of `layer` a fresh value drawn by that weight's own
 * initializer, seeded with deriveSeed(seed, weightIndex). Throws ModelError
 * naming the layer and weight when no initializer can be found or rebuilt.
 */
export function reinitializeLayer(layer: Layer, seed: number): void {
  const owners = reachableLayers(layer);
  layer.weights.forEach((weight, index) => {
    const found = findInitializer(owners, weight);
    if (found === undefined) {
      throw new ModelError(
        `cannot re-initialise weight "${weight.originalName}" of layer "${layer.name}" (${layer.getClassName()}): ` +
          `no initializer found for it (expected a property named like "<weight>Initializer" on the layer)`,
      );
    }
    const weightSeed = deriveSeed(seed, index);
    const initializer = seededInitializer(found.initializer, weightSeed, layer, weight);
    const shape = weight.shape as number[];
    tf.tidy(() => {
      let value: tf.Tensor;
      if (found.unitForgetBias) {
        // LSTM cells built with unitForgetBias start the forget gate's bias
        // at 1 (tfjs builds that initializer inline, so we rebuild it here).
        const units = shape[0]! / 4;
        const other = seededInitializer(found.initializer, deriveSeed(weightSeed, "rest"), layer, weight);
        value = tf.concat([initializer.apply([units]), tf.ones([units]), other.apply([units * 2])]);
      } else {
        value = initializer.apply(shape, weight.dtype);
      }
      weight.write(value);
    });
  });
}

/** The layer and every layer-like object inside it (RNN cells, wrapped layers, sub-models). */
export function reachableLayers(root: Layer): Layer[] {
  const seen = new Set<object>([root]);
  const queue: Layer[] = [root];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const value of Object.values(node)) {
      for (const candidate of Array.isArray(value) ? value : [value]) {
        if (isLayerLike(candidate) && !seen.has(candidate)) {
          seen.add(candidate);
          queue.push(candidate);
        }
      }
    }
  }
  return queue;
}

function isLayerLike(value: unknown): value is Layer {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Layer>;
  return typeof candidate.getClassName === "function" && typeof candidate.apply === "function" && "trainableWeights" in candidate;
}

function isInitializer(value: unknown): value is Initializer {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Initializer>;
  return typeof candidate.apply === "function" && typeof candidate.getClassName === "function" && typeof candidate.getConfig === "function";
}

function findInitializer(
  owners: Layer[],
  weight: Weight,
): { initializer: Initializer; unitForgetBias: boolean } | undefined {
  for (const owner of owners) {
    const fields = owner as unknown as Record<string, unknown>;
    for (const [property, value] of Object.entries(fields)) {
      if (value !== weight) continue;
      for (const name of [`${property}Initializer`, `${property.replace(/Kernel$/, "")}Initializer`]) {
        const initializer = fields[name];
        if (isInitializer(initializer)) {
          return { initializer, unitForgetBias: property === "bias" && fields["unitForgetBias"] === true };
        }
      }
    }
  }
  // Fallback for weights held in no property: "moving_mean" -> movingMeanInitializer.
  const shortName = weight.originalName.slice(weight.originalName.lastIndexOf("/") + 1);
  const camel = shortName.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
  for (const owner of owners) {
    const initializer = (owner as unknown as Record<string, unknown>)[`${camel}Initializer`];
    if (isInitializer(initializer) && owner.weights.includes(weight)) return { initializer, unitForgetBias: false };
  }
  return undefined;
}

function seededInitializer(initializer: Initializer, seed: number, layer: Layer, weight: Weight): Initializer {
  const className = initializer.getClassName();
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) {
    throw new ModelError(
      `cannot re-initialise weight "${weight.originalName}" of layer "${layer.name}": its initializer class ` +
        `"${className}" is not registered with tf.serialization.registerClass, so it cannot be re-created with a seed`,
    );
  }
  const config = { ...initializer.getConfig() };
  // Only randomised initializers carry a `seed` key; constant ones ignore it.
  if ("seed" in config) config["seed"] = seed;
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config) as unknown as Initializer;
}
