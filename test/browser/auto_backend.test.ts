/**
 * `backend: "auto"` in a browser whose WebGL is software-rendered (SwiftShader:
 * no GPU here) picks wasm, and says why; WebGL still works when asked for by
 * name (bench/browser.ts measures it). Chromium only: Firefox ESR gives no
 * WebGL context here at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { browserTestFile, bundle, callPage, launchBrowser, serve, assertNoProblems } from "./harness.js";

test("in Chromium on SwiftShader, auto prefers wasm over the registered WebGL and names the software renderer", async (t) => {
  const server = await serve({ page: await bundle(browserTestFile("pages/page.ts")), worker: await bundle(browserTestFile("pages/worker.ts")) });
  const browser = await launchBrowser("chromium", { webgl: true });
  try {
    t.diagnostic(browser.version);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.pageUrl("page"));
    const chosen = await callPage<{ name: string; reason: string }>(page, "autoBackend");
    assertNoProblems(page);
    assert.equal(chosen.name, "wasm", chosen.reason);
    assert.match(chosen.reason, /WebGL is software-rendered \(.*swiftshader.*\), slower than wasm/i);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test("in Chromium, wasm started without setWasmPaths (its .wasm files not found) is a BackendError saying to call setWasmPaths", async () => {
  const server = await serve({ page: await bundle(browserTestFile("pages/page.ts")), worker: await bundle(browserTestFile("pages/worker.ts")) });
  const browser = await launchBrowser("chromium");
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.pageUrl("page"));
    const message = await callPage<string>(page, "wasmWithoutPaths");
    assert.match(message, /^BackendError: backend "wasm" could not start: .*the \.wasm files not being found.*call setWasmPaths\(<their URL>\)/s);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});
