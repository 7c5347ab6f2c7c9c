import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { KERNELS, generatedPath, generatedSource } from "../../scripts/build-wasm-kernels.js";

/** The functions each kernel module exports. */
const EXPORTS_OF: Record<(typeof KERNELS)[number], string[]> = {
  adam_update: ["adam"], dense_relu: ["bias_relu", "relu_bias_grad"], transpose: ["transpose"], max_pool_grad: ["maxPoolGrad"],
  gemm: ["gemm"], sgd_update: ["sgd"],
  conv_filter_grad: ["convFilterGrad"],
  bias_relu_pool: ["biasReluPool", "biasReluPoolGrad"],
  winograd: ["inputTransform", "outputTransform", "products", "gradOutputTransform", "filterProducts"],
};

test("every generated wasm kernel module matches its .wat source (run scripts/build-wasm-kernels.ts after editing one)", async () => {
  assert.ok(KERNELS.length > 0);
  for (const kernel of KERNELS) {
    const expected = await generatedSource(kernel);
    assert.equal(readFileSync(generatedPath(kernel), "utf8"), expected, `${kernel}_wasm.ts is stale`);
    // Both builds are valid modules exporting the kernel's functions.
    const { [`${kernel.toUpperCase()}_WASM`]: builds } = (await import(`../../src/backend/wasm_kernels/${kernel}_wasm.js`)) as Record<string, { plain: string; shared: string }>;
    for (const bytes of [builds!.plain, builds!.shared]) {
      const module = new WebAssembly.Module(Buffer.from(bytes, "base64"));
      assert.deepEqual(WebAssembly.Module.exports(module).map((e) => e.name), EXPORTS_OF[kernel]);
    }
  }
});
