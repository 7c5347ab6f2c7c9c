/**
 * Registering relearn's own kernels (RelearnBiasRelu, RelearnAdamUpdate, ...) with tfjs. Each is registered at most
 * once per backend: tfjs warns on a second registration, and a module may be loaded twice (a bundle and a test).
 * Relearn's kernels have relearn's own names, so they never replace a stock kernel (that is wasm_kernels/index.ts,
 * with its restore).
 */
import * as tf from "@tensorflow/tfjs-core";

/** A kernel's implementation on one backend. */
export interface CustomKernel {
  kernelName: string;
  backendName: string;
  // Each kernel's own signature: tfjs's KernelFunc type takes one shape of arguments for all.
  kernelFunc: unknown;
}

/** Registers each kernel not registered yet for its backend (idempotent). */
export function registerCustomKernels(kernels: readonly CustomKernel[]): void {
  for (const { kernelName, backendName, kernelFunc } of kernels) {
    if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

/** Whether the active backend has every one of the kernels named, so a caller can take its fused path. */
export function activeBackendHasKernels(kernelNames: readonly string[]): boolean {
  const backend = tf.getBackend();
  return kernelNames.every((name) => tf.getKernel(name, backend) !== undefined);
}
