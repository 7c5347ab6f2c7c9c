/**
 * Smoke test of the real-browser harness: a seeded MLP built by relearn in
 * Chromium and Firefox ESR (a page and a module Worker, on wasm and on cpu)
 * has the same weights and logits, byte for byte, as in Node.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useBackend } from "../helpers/backend.js";
import { runComputation } from "./pages/computations.js";
import { assertNoProblems, callPage, fromBase64 } from "./harness.js";
import { describeInBrowsers } from "./suite.js";

describeInBrowsers("smoke", (suite) => {
  for (const backend of ["wasm", "cpu"] as const) {
    test(`a seeded model's weights and logits on ${backend} match Node byte for byte (page and worker)`, async (t) => {
      const { browser, server } = suite();
      t.diagnostic(browser.version);
      await useBackend(backend);
      const expected = await runComputation("smoke", { seed: 3 });
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(server.pageUrl("page"));
        const inPage = fromBase64(await callPage<string>(page, "run", backend, "smoke", { seed: 3 }));
        const inWorker = fromBase64(await callPage<string>(page, "runInWorker", backend, "smoke", { seed: 3 }));
        assertNoProblems(page);
        assert.ok(expected.length > 0);
        assert.deepEqual(inPage, expected, `page on ${backend} differs from Node`);
        assert.deepEqual(inWorker, expected, `worker on ${backend} differs from Node`);
      } finally {
        await context.close();
      }
    });
  }
});
