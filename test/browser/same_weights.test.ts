/**
 * Issue 11 part 5 (a): an RD update and a replay baseline (ER) give the same
 * weights, byte for byte, in a page and in a module Worker of Chromium and
 * Firefox ESR as in Node, for the same seed, on wasm and on cpu.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useBackend } from "../helpers/backend.js";
import { runComputation } from "./pages/computations.js";
import { assertNoProblems, callPage, fromBase64 } from "./harness.js";
import { describeInBrowsers } from "./suite.js";

describeInBrowsers("same weights as Node", (suite) => {
  for (const backend of ["wasm", "cpu"] as const) {
    test(`rd and er updates on ${backend}: page and worker weights equal Node's`, async (t) => {
      const { browser, server } = suite();
      t.diagnostic(browser.version);
      await useBackend(backend);
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(server.pageUrl("page"));
        for (const updater of ["rd", "er"]) {
          const args = { updater, seed: 5 };
          const expected = await runComputation("update", args);
          const inPage = fromBase64(await callPage<string>(page, "run", backend, "update", args));
          const inWorker = fromBase64(await callPage<string>(page, "runInWorker", backend, "update", args));
          assert.ok(expected.length > 0);
          assert.deepEqual(inPage, expected, `${updater} in a page on ${backend} differs from Node`);
          assert.deepEqual(inWorker, expected, `${updater} in a worker on ${backend} differs from Node`);
        }
        assertNoProblems(page);
      } finally {
        await context.close();
      }
    });
  }
});
