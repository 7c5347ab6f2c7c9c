import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertBackendSupports, currentBackend, initBackend, type BackendName } from "../../src/backend/backend.js";
import { BackendError, OptionsError } from "../../src/errors.js";
import { expectNoTensorLeak } from "../helpers/backend.js";

/** [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]: proves kernels really run. */
function matmulWorks(): void {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync());
  assert.deepEqual(product, [[19, 22], [43, 50]]);
}

test("auto picks wasm when tfjs-node is absent, and its .wasm binary loads without setWasmPaths", async () => {
  assert.equal(currentBackend(), undefined);
  const info = await initBackend();
  assert.equal(info.name, "wasm");
  assert.equal(info.requested, "auto");
  assert.match(info.reason, /@tensorflow\/tfjs-node is not installed/);
  assert.equal(tf.getBackend(), "wasm");
  assert.deepEqual(currentBackend(), info);
  await expectNoTensorLeak(matmulWorks);
});

test("calling initBackend again with the same choice returns at once, without re-initialising", async () => {
  const first = await initBackend("auto");
  const engineBackend = tf.engine().backend;
  const second = await initBackend("auto");
  assert.equal(second, first);
  // The same backend instance: nothing was registered or initialised again (no timing assert: shared machines).
  assert.equal(tf.engine().backend, engineBackend);
});

test("explicit cpu works, and switching back to wasm works", async () => {
  const cpu = await initBackend("cpu");
  assert.deepEqual(cpu, { name: "cpu", requested: "cpu", reason: "requested cpu", threads: 1 });
  assert.equal(tf.getBackend(), "cpu");
  await expectNoTensorLeak(matmulWorks);
  const wasm = await initBackend("wasm");
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  await expectNoTensorLeak(matmulWorks);
});

test("currentBackend reports a switch made behind relearn's back", async () => {
  await initBackend("wasm");
  await tf.setBackend("cpu");
  assert.equal(currentBackend()?.name, "cpu");
  assert.match(currentBackend()?.reason ?? "", /outside initBackend/);
  // initBackend notices and really switches back.
  assert.equal((await initBackend("wasm")).name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
});

// Not webgl: it is a dev dependency (the browser bench's SwiftShader row), so it is installed here.
for (const [name, pkg] of [
  ["webgpu", "@tensorflow/tfjs-backend-webgpu"],
  ["tensorflow", "@tensorflow/tfjs-node"],
] as const) {
  test(`"${name}" without its package says which package to install, at the pinned version`, async () => {
    await initBackend("wasm");
    await assert.rejects(initBackend(name), (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.ok(error.message.includes(`npm install ${pkg}@4.22.0`), error.message);
      return true;
    });
    // The failed attempt leaves the running backend alone.
    assert.equal(tf.getBackend(), "wasm");
    assert.equal(currentBackend()?.name, "wasm");
  });
}

test("an unknown backend name is an OptionsError", async () => {
  await assert.rejects(initBackend("metal" as BackendName), OptionsError);
});

test("assertBackendSupports accepts one device at 32-bit precision and rejects the rest", () => {
  assertBackendSupports({ backend: "wasm" });
  assertBackendSupports({ backend: "wasm", devices: 1, precision: "32" });
  assertBackendSupports({ backend: "cpu", devices: 1, precision: 32 });
  assert.throws(() => assertBackendSupports({ backend: "wasm", devices: 2 }), {
    name: "BackendError",
    message: /devices 2 is not supported on wasm/,
  });
  assert.throws(() => assertBackendSupports({ backend: "wasm", precision: "16" }), {
    name: "BackendError",
    message: /precision 16 is not supported on wasm/,
  });
  assert.throws(() => assertBackendSupports({ backend: "cpu", precision: "bf16" }), {
    name: "BackendError",
    message: /precision bf16 is not supported on cpu/,
  });
  assert.throws(() => assertBackendSupports({ backend: "wasm", devices: 0 }), OptionsError);
  assert.throws(() => assertBackendSupports({ backend: "wasm", devices: 1.5 }), OptionsError);
});

test("wasmThreads: out of range is an OptionsError; another count than the running one is a BackendError", async () => {
  const info = await initBackend("wasm");
  assert.ok(info.threads !== undefined && info.threads >= 1);
  for (const bad of [0, 5, 1.5]) await assert.rejects(initBackend("wasm", { wasmThreads: bad }), OptionsError);
  await assert.rejects(initBackend("wasm", { wasmThreads: info.threads === 1 ? 2 : 1 }), (error: unknown) => {
    assert.ok(error instanceof BackendError);
    assert.match(error.message, new RegExp(`already runs on ${info.threads} thread`));
    return true;
  });
  // Asking for the running count is fine.
  assert.equal((await initBackend("wasm", { wasmThreads: info.threads })).name, "wasm");
});
