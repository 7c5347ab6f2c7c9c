/**
 * The node:test suites of the browser tests: one per browser, sharing the
 * test page and worker bundles (harness.ts does the bundling, serving and
 * driving; this file only wires it into node:test).
 */
import { after, before, describe, test } from "node:test";
import {
  browserTestFile, bundle, firefoxSkipReason, launchBrowser, serve, type TestBrowser, type TestServer,
} from "./harness.js";

/** What a browser suite's tests use: the running browser and the server of the test page and worker. */
export interface BrowserSuite {
  browser: TestBrowser;
  server: TestServer;
}

let testBundles: Promise<Record<string, string>> | undefined;

/**
 * One `describe` per browser titled "<title> in <browser>", with the test
 * page (pages/page.ts) and worker (pages/worker.ts) bundled once per test
 * file, served, and the browser launched before its tests and closed after.
 * `suite()` gives the tests the browser and server. When Firefox is left out
 * (RELEARN_SKIP_FIREFOX=1) its place is one skipped test saying so, so the
 * summary counts it as skipped.
 */
export function describeInBrowsers(title: string, body: (suite: () => BrowserSuite) => void): void {
  for (const name of ["chromium", "firefox"] as const) {
    const skip = name === "firefox" ? firefoxSkipReason() : undefined;
    if (skip !== undefined) {
      test(`${title} in ${name}`, { skip }, () => {});
      continue;
    }
    describe(`${title} in ${name}`, () => {
      let current: BrowserSuite | undefined;
      before(async () => {
        testBundles ??= Promise.all([bundle(browserTestFile("pages/page.ts")), bundle(browserTestFile("pages/worker.ts"))])
          .then(([page, worker]) => ({ page, worker }));
        const server = await serve(await testBundles);
        try {
          current = { server, browser: await launchBrowser(name) };
        } catch (error) {
          await server.close();
          throw error;
        }
      });
      after(async () => {
        await current?.browser.close();
        await current?.server.close();
      });
      body(() => {
        if (current === undefined) throw new Error(`${name} did not start (see the failure of the suite's before hook)`);
        return current;
      });
    });
  }
}
