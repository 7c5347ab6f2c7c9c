/**
 * Issue 11 part 5 (b)-(e): states kept in IndexedDB by real browsers.
 * (b) written, page reloaded, next update: identical to an uninterrupted run;
 * (c) a page closed in the middle of a state write leaves the previous state
 *     loadable and no partial one;
 * (d) two tabs updating the same state: one fails clearly (or waits), nothing is lost;
 * (e) a corrupt stored state is an error, never a fresh start.
 * Every update is RD on wasm, seeded; Node computes the expected weights.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { useBackend } from "../helpers/backend.js";
import type { Outcome } from "./pages/page.js";
import { updateStep, type StepArgs } from "./pages/state_steps.js";
import { assertNoProblems, callPage, fromBase64, type TestContext, type TestPage } from "./harness.js";
import { describeInBrowsers, type BrowserSuite } from "./suite.js";

const UPDATER = "rd";
const SEED = 9;
const step = (task: number, output: string, input?: string): StepArgs =>
  ({ updater: UPDATER, seed: SEED, task, output, ...(input === undefined ? {} : { input }) });

/**
 * Node's weights after `tasks` updates in a row through states on disk (the
 * file-system store), each continuing the previous one.
 */
async function nodeWeights(tasks: readonly number[]): Promise<Uint8Array> {
  await useBackend("wasm");
  const folder = await mkdtemp(join(tmpdir(), "relearn-browser-expected-"));
  try {
    let weights: Uint8Array = new Uint8Array();
    let input: string | undefined;
    for (const [i, task] of tasks.entries()) {
      const output = join(folder, `v${i}`);
      weights = await updateStep(step(task, output, input));
      input = output;
    }
    return weights;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** The weights of a successful outcome; fails with the page's error otherwise. */
function weightsOf(outcome: Outcome, what: string): Uint8Array {
  assert.equal(outcome.error, undefined, `${what} failed in the page`);
  assert.ok(outcome.weights !== undefined, `${what} returned nothing`);
  return fromBase64(outcome.weights);
}

/** A new tab of `context` on the test page. */
async function openPage({ server }: BrowserSuite, context: TestContext): Promise<TestPage> {
  const page = await context.newPage();
  await page.goto(server.pageUrl("page"));
  return page;
}

describeInBrowsers("IndexedDB states", (suite) => {
  test("(b) state written, page reloaded, next update: identical to an uninterrupted run", async (t) => {
    t.diagnostic(suite().browser.version);
    const expected = await nodeWeights([0, 1]);
    const context = await suite().browser.newContext();
    try {
      const page = await openPage(suite(), context);
      weightsOf(await callPage<Outcome>(page, "step", "wasm", step(0, "first")), "update 1");
      await page.reload();
      const resumed = weightsOf(await callPage<Outcome>(page, "step", "wasm", step(1, "second", "first")), "update 2 after reload");
      assert.deepEqual(resumed, expected, "the update after a reload differs from the uninterrupted run in Node");
      assert.deepEqual(
        weightsOf(await callPage<Outcome>(page, "storedWeights", "wasm", UPDATER, "second"), "reading the state back"),
        expected,
        "the stored state does not hold the updated weights",
      );
      assertNoProblems(page);
    } finally {
      await context.close();
    }
  });

  test("(b) a state written by an update in a worker is continued by the page after a reload, as in Node", async () => {
    const context = await suite().browser.newContext();
    try {
      const page = await openPage(suite(), context);
      const inWorker = fromBase64(await callPage<string>(page, "runInWorker", "wasm", "step", step(0, "from-worker")));
      assert.deepEqual(inWorker, await nodeWeights([0]), "the worker's update differs from Node's");
      await page.reload();
      const resumed = weightsOf(await callPage<Outcome>(page, "step", "wasm", step(1, "from-page", "from-worker")), "update 2 in the page");
      assert.deepEqual(resumed, await nodeWeights([0, 1]), "the page's update of the worker's state differs from Node's");
      assertNoProblems(page);
    } finally {
      await context.close();
    }
  });

  test("(c) a page closed in the middle of a state write leaves the previous state and no partial one", async () => {
    const context = await suite().browser.newContext();
    try {
      const page = await openPage(suite(), context);
      const before = weightsOf(await callPage<Outcome>(page, "step", "wasm", step(0, "s")), "update 1");
      const keysBefore = await callPage<Record<string, string[]>>(page, "storedKeys");
      assert.ok((keysBefore["files"] ?? []).length > 0, `no file records after a write: ${JSON.stringify(keysBefore)}`);
      await callPage(page, "stallStateWrites");
      await callPage(page, "startStep", "wasm", step(1, "s", "s"));
      await waitFor(page, "globalThis.relearnWriteStalled === true", "the second update to start writing its state");
      assertNoProblems(page);
      await page.close();

      const next = await openPage(suite(), context);
      assert.deepEqual(await callPage(next, "storedKeys"), keysBefore, "records changed: a partial state was committed");
      const loaded = weightsOf(await callPage<Outcome>(next, "storedWeights", "wasm", UPDATER, "s"), "loading the previous state");
      assert.deepEqual(loaded, before, "the previous state's weights changed");
      const retried = weightsOf(await callPage<Outcome>(next, "step", "wasm", step(1, "s", "s")), "the update, retried");
      assert.deepEqual(retried, await nodeWeights([0, 1]), "the retried update differs from Node's");
      assertNoProblems(next);
    } finally {
      await context.close();
    }
  });

  test("(d) two tabs updating the same state: one fails clearly or waits, nothing is lost", async (t) => {
    const context = await suite().browser.newContext();
    try {
      const first = await openPage(suite(), context);
      weightsOf(await callPage<Outcome>(first, "step", "wasm", step(0, "shared")), "update 1");
      const second = await openPage(suite(), context);
      // Different updates (task 1 and task 0 again), so a lost one would show in the weights.
      await callPage(first, "armStep", "wasm", step(1, "shared", "shared"));
      await callPage(second, "armStep", "wasm", step(0, "shared", "shared"));
      // A third tab fires both at once, so the two updates really overlap.
      const starter = await openPage(suite(), context);
      await callPage(starter, "go");
      const outcomes = [await callPage<Outcome>(first, "pendingStep"), await callPage<Outcome>(second, "pendingStep")];
      const stored = weightsOf(await callPage<Outcome>(first, "storedWeights", "wasm", UPDATER, "shared"), "reading the state");
      const failures = outcomes.filter((o) => o.error !== undefined);
      for (const failure of failures) assert.match(failure.error ?? "", /StateError/, "a refused update must be a StateError");
      t.diagnostic(failures.length === 0 ? "both updates went through, one after the other" : `refused: ${failures[0]?.error ?? ""}`);
      if (failures.length === 1) {
        const winner = outcomes.find((o) => o.error === undefined)!;
        assert.deepEqual(stored, weightsOf(winner, "the update that went through"), "the stored state is not the committed update");
        // The refused tab redoes its update on top of the winner's: both updates end up in the state.
        const firstLost = outcomes[0]?.error !== undefined;
        const [loser, loserTask] = firstLost ? [first, 1] : [second, 0];
        const redone = weightsOf(await callPage<Outcome>(loser, "step", "wasm", step(loserTask, "shared", "shared")), "the redone update");
        assert.deepEqual(redone, await nodeWeights(firstLost ? [0, 0, 1] : [0, 1, 0]), "the redone update differs from Node's serial run");
      } else {
        // Both went through: the second must have waited and continued from the first.
        assert.equal(failures.length, 0, `both updates failed: ${failures.map((f) => f.error).join("; ")}`);
        const serial = [await nodeWeights([0, 1, 0]), await nodeWeights([0, 0, 1])];
        assert.ok(serial.some((w) => Buffer.from(w).equals(stored)), "both updates committed but one was lost");
      }
      assertNoProblems(first, second, starter);
    } finally {
      await context.close();
    }
  });

  test("(e) a corrupt stored state is an error, never a fresh start", async () => {
    const context = await suite().browser.newContext();
    try {
      const page = await openPage(suite(), context);
      weightsOf(await callPage<Outcome>(page, "step", "wasm", step(0, "c")), "update 1");
      const keys = await callPage<Record<string, string[]>>(page, "storedKeys");
      const paths = (keys["files"] ?? []).map((key) => JSON.parse(key) as unknown).filter(
        (key): key is [string, string] => Array.isArray(key) && key[0] === "c" && typeof key[1] === "string",
      ).map((key) => key[1]);
      const target = paths.find((path) => path === "model/weights.bin") ?? paths.find((path) => path.endsWith(".bin"));
      assert.ok(target !== undefined, `no weights file among ${JSON.stringify(keys)}`);
      assert.equal(await callPage(page, "corruptStoredFile", "c", target), true);

      const resumed = await callPage<Outcome>(page, "step", "wasm", step(1, "c2", "c"));
      assert.equal(resumed.weights, undefined, "an update from a corrupt state went through");
      assert.match(resumed.error ?? "", /StateError/);
      assert.match(resumed.error ?? "", new RegExp(target.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")), "the error must name the damaged file");
      const after = await callPage<Record<string, string[]>>(page, "storedKeys");
      assert.ok(!(after["states"] ?? []).some((key) => key.includes("c2")), "a state was written from a corrupt input");
      assertNoProblems(page);
    } finally {
      await context.close();
    }
  });
});

/** Polls `expression` in the page until it is true (up to a minute). */
async function waitFor(page: TestPage, expression: string, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await page.evaluate<boolean>(expression)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
