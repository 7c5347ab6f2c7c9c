/**
 * Test helpers shared by every test file that touches tfjs: start a backend
 * by name, and check that a piece of code leaves no tensor behind.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/backend.js";

/** Starts (once per process) and activates the named backend; returns its name. */
export async function useBackend(name: "wasm" | "cpu"): Promise<string> {
  const info = await initBackend(name);
  assert.equal(tf.getBackend(), name);
  return info.name;
}

/**
 * Runs `body` and asserts that tf.memory().numTensors is the same after it
 * as before: every tensor it made was disposed (or handed back and disposed
 * by `body` itself).
 */
export async function expectNoTensorLeak<T>(body: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await body();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  return result;
}

/** The values of a list of tensors as plain Float32Arrays (for bitwise comparisons). */
export function valuesOf(tensors: readonly tf.Tensor[]): Float32Array[] {
  return tensors.map((t) => Float32Array.from(t.dataSync()));
}
