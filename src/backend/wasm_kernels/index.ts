/**
 * relearn's kernel overrides for tfjs-backend-wasm 4.22, which runs most of
 * a training step off its fast path (see each file). `initBackend` installs
 * them when it starts wasm; the benchmark uninstalls them to measure the
 * stock kernels. Installing replaces the registered kernel for "wasm" in
 * tfjs's global registry (node_modules stays untouched); uninstalling puts
 * the stock ones back.
 */
import * as tf from "@tensorflow/tfjs-core";
import { conv2DBackpropFilterOnFastPath } from "./conv2d_backprop_filter.js";
import { conv2DBackpropInputOnFastPath } from "./conv2d_backprop_input.js";
import { conv2DOnFastPath } from "./conv2d_winograd.js";
import { batchMatMulOnFastPath } from "./batch_mat_mul.js";
import { fusedMatMulOnFastPath } from "./fused_mat_mul.js";
import { castOnFastPath, identityOnFastPath } from "./identity.js";
import { maxPoolGradOnFastPath } from "./max_pool_grad.js";
import { sumOnFastPath } from "./sum.js";
import { captureStockKernel, markOverride } from "./wasm_heap.js";

const OVERRIDES: ReadonlyArray<{ kernelName: string; kernelFunc: tf.KernelFunc }> = [
  { kernelName: tf.BatchMatMul, kernelFunc: batchMatMulOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf._FusedMatMul, kernelFunc: fusedMatMulOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2D, kernelFunc: conv2DOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilterOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInputOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.MaxPoolGrad, kernelFunc: maxPoolGradOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Sum, kernelFunc: sumOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Identity, kernelFunc: identityOnFastPath as unknown as tf.KernelFunc },
  { kernelName: tf.Cast, kernelFunc: castOnFastPath as unknown as tf.KernelFunc },
];

/** The stock kernels the overrides call into; they must exist before installing. */
const DELEGATES = [tf.BatchMatMul, tf._FusedMatMul, tf.Transpose, tf.Conv2D, tf.Conv2DBackpropInput, tf.Sum, tf.Identity, tf.Cast];

let installed = false;

/**
 * Registers relearn's wasm kernels (BatchMatMul, _FusedMatMul, Conv2D,
 * Conv2DBackpropFilter, Conv2DBackpropInput, MaxPoolGrad, Sum, Identity, Cast) in place of
 * the stock ones.
 * Idempotent. Needs @tensorflow/tfjs-backend-wasm to be imported (its
 * kernels registered); the backend may or may not be started yet.
 */
export function installWasmKernelOverrides(): void {
  if (installed) return;
  for (const { kernelFunc } of OVERRIDES) markOverride(kernelFunc);
  for (const name of DELEGATES) captureStockKernel(name);
  if (captureStockKernel(tf.BatchMatMul) === undefined) return; // wasm not loaded: nothing to override
  for (const { kernelName, kernelFunc } of OVERRIDES) {
    const stock = captureStockKernel(kernelName);
    if (stock !== undefined) tf.unregisterKernel(kernelName, "wasm");
    const config: tf.KernelConfig = { kernelName, backendName: "wasm", kernelFunc };
    // The stock setup binds the wasm export the stock kernel (our delegate)
    // calls; keep it, so a wasm backend started after installing still runs it.
    if (stock?.setupFunc !== undefined) config.setupFunc = stock.setupFunc;
    tf.registerKernel(config);
  }
  installed = true;
}

/** Puts the stock wasm kernels back (for comparisons); idempotent. */
export function uninstallWasmKernelOverrides(): void {
  if (!installed) return;
  for (const { kernelName } of OVERRIDES) {
    tf.unregisterKernel(kernelName, "wasm");
    const stock = captureStockKernel(kernelName);
    if (stock !== undefined) tf.registerKernel(stock);
  }
  installed = false;
}

/** Whether relearn's wasm kernels are the registered ones. */
export function wasmKernelOverridesInstalled(): boolean {
  return installed;
}
