/**
 * The computations the browser tests run in Node, in a page and in a module
 * Worker, each returning bytes that must be identical everywhere for the same
 * seed and backend. Shared source, so the three runs cannot drift apart.
 * Imports only the core (no `node:` module): it is bundled for the browser.
 */
import * as tf from "@tensorflow/tfjs-core";
import { buildModel } from "../../../src/model/continual_model.js";
import { mlp } from "../../../src/model/spec.js";
import type { StepArgs } from "./state_steps.js";

/** A computation's arguments: plain JSON, so they cross into pages and workers. */
export type ComputationArgs = Record<string, number | string | boolean>;

/** The bytes of every weight of the model and of the logits of a fixed input, from a seeded MLP. */
async function smoke(args: ComputationArgs): Promise<Uint8Array> {
  const seed = Number(args["seed"] ?? 0);
  const model = buildModel(mlp({ inputShape: [8], hidden: [16], classes: 3 }), { seed });
  try {
    const values = Float32Array.from({ length: 4 * 8 }, (_, i) => Math.sin(i * 0.37 + seed));
    const logits = tf.tidy(() => model.getLogits(tf.tensor2d(values, [4, 8])));
    const weights = model.snapshotWeights();
    const parts = [...weights, logits];
    const bytes = concatFloat32(await Promise.all(parts.map((t) => t.data() as Promise<Float32Array>)));
    tf.dispose(parts);
    return bytes;
  } finally {
    model.dispose();
  }
}

/** The bytes of every weight of `model`, in snapshotWeights order. */
export async function weightBytes(model: { snapshotWeights(): tf.Tensor[] }): Promise<Uint8Array> {
  const weights = model.snapshotWeights();
  try {
    return concatFloat32(await Promise.all(weights.map((t) => t.data() as Promise<Float32Array>)));
  } finally {
    tf.dispose(weights);
  }
}

/** Every computation by name. */
export const COMPUTATIONS: Record<string, (args: ComputationArgs) => Promise<Uint8Array>> = {
  smoke,
  // Imported on first use: the updaters are a much larger part of the bundle.
  update: async (args) => (await import("./update_computations.js")).update(args),
  // One update through stored states (state_steps.ts); args are a StepArgs.
  step: async (args) => (await import("./state_steps.js")).updateStep(args as unknown as StepArgs),
};

/** Runs computation `name`; an Error naming the known ones for an unknown name. */
export async function runComputation(name: string, args: ComputationArgs): Promise<Uint8Array> {
  const computation = COMPUTATIONS[name];
  if (computation === undefined) {
    throw new Error(`no computation "${name}"; known: ${Object.keys(COMPUTATIONS).join(", ")}`);
  }
  const backend = activeBackend();
  const bytes = await computation(args);
  // A result computed partly on another backend would compare the wrong things.
  if (tf.getBackend() !== backend) throw new Error(`computation "${name}" switched tfjs from ${backend} to ${tf.getBackend()}`);
  return bytes;
}

/**
 * The tfjs backend the caller started ("wasm" or "cpu"), for updaters'
 * `backend` option: their default "auto" would switch a cpu run to wasm.
 */
export function activeBackend(): "wasm" | "cpu" {
  const name = tf.getBackend();
  if (name !== "wasm" && name !== "cpu") throw new Error(`the browser tests run on wasm or cpu; tfjs is on ${name}`);
  return name;
}

/** The little-endian bytes of several float32 arrays, one after the other. */
export function concatFloat32(arrays: readonly Float32Array[]): Uint8Array {
  const out = new Uint8Array(arrays.reduce((sum, a) => sum + a.byteLength, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  }
  return out;
}
