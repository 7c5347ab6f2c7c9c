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
 *
 * Frozen weights are never re-drawn: see frozen.ts for the rule, which this
 * file applies. Every re-initialisation goes through here (building,
 * `reinitialize`, `cloneFresh`, and so every updater that starts a model
 * afresh), so a new updater cannot get it wrong.
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { ModelError } from "../errors.js";
import { deriveSeed } from "../random.js";
import { reachableLayers, redrawnWeights, type Layer } from "./frozen.js";
// tfjs-layers initializers (Orthogonal) call chained tensor methods.
import "../backend/chained_ops.js";

type Weight = tfl.LayerVariable;
type Initializer = { getClassName(): string; getConfig(): tf.serialization.ConfigDict; apply(shape: number[], dtype?: tf.DataType): tf.Tensor };

/**
 * Gives every weight of `layer` that is not frozen (see frozen.ts) a
 * fresh value drawn by that weight's own initializer, seeded with
 * deriveSeed(seed, weightIndex); frozen weights keep their values. Pass
 * `insideFrozen` when a model enclosing `layer` has `trainable: false`.
 * Throws ModelError naming the layer and weight when no initializer can be
 * found or rebuilt.
 */
export function reinitializeLayer(layer: Layer, seed: number, { insideFrozen = false }: { insideFrozen?: boolean } = {}): void {
  const owners = reachableLayers(layer);
  const redrawn = redrawnWeights(layer, insideFrozen);
  layer.weights.forEach((weight, index) => {
    // The index counts frozen weights too, so freezing a layer changes no other weight's seed.
    if (!redrawn.has(weight)) return;
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
