// The browser demo (npm run demo:browser) in a real Chromium: it loads, runs
// two updates side by side in its workers with no console error, and shows
// accuracy matrices of the right shape where RD keeps task 1 and fine-tuning
// forgets it; a reload resumes at update 3, export downloads a zip, a damaged
// stored state is an error (never a fresh start) and start over recovers from
// it. A missing browser fails the test (never a skip).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { serveDemo } from "../../scripts/demo_server.mjs";
import { browserBinary } from "./harness.js";


/** The status line matches `pattern` (the page redraws on the next animation frame: waits up to 10 s for it). */
async function expectStatus(page: Page, pattern: RegExp): Promise<void> {
  const source = pattern.source;
  await page.waitForFunction((s) => new RegExp(s).test(document.querySelector("#status")?.textContent ?? ""), source, { timeout: 10_000 }).catch(() => undefined);
  assert.match((await page.textContent("#status")) ?? "", pattern);
}

test("the demo page runs two updates in its workers with no console error, shows sane accuracy matrices, resumes after a reload, exports, reports a damaged state and starts over", { timeout: 240_000 }, async () => {
  const server = await serveDemo({ port: 0 });
  let browser: Browser | undefined;
  try {
    // playwright's own page API (downloads, clicks, selectors), on the harness's Chromium binary.
    browser = await chromium.launch({ executablePath: browserBinary("chromium"), args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console.error: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
    page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
    await page.goto(server.url);
    await page.evaluate(() => window.relearnDemo.ready);
    await page.evaluate(() => window.relearnDemo.runNext());
    await page.evaluate(() => window.relearnDemo.runNext());
    assert.deepEqual(problems, []);
    assert.deepEqual(await page.evaluate(() => window.relearnDemo.transfers()), [true, true, true, true], "each chunk moved to its worker (page arrays detached)");

    const rows = await page.evaluate(() => window.relearnDemo.rows());
    for (const key of ["rd", "ft"]) {
      const lane = rows[key]!;
      assert.equal(lane.length, 2, `${key}: two updates recorded`);
      for (const row of lane) {
        assert.ok(row !== null && row.length === 5, `${key}: one accuracy per task`);
        assert.ok(row.every((a) => a >= 0 && a <= 1), `${key}: accuracies in [0, 1]: ${row.join(", ")}`);
        assert.ok(row.slice(2).every((a) => a === 0), `${key}: classes never taught are never predicted: ${row.join(", ")}`);
      }
    }
    const [rd1, rd2] = rows["rd"]! as number[][];
    const [ft1, ft2] = rows["ft"]! as number[][];
    assert.ok(rd1![0]! > 0.9 && ft1![0]! > 0.9, `both learn task 1: rd ${rd1![0]}, ft ${ft1![0]}`);
    assert.ok(rd2![1]! > 0.8 && ft2![1]! > 0.8, `both learn task 2: rd ${rd2![1]}, ft ${ft2![1]}`);
    assert.ok(rd2![0]! > 0.6, `RD keeps task 1: ${rd2![0]}`);
    assert.ok(ft2![0]! < 0.2, `fine-tuning forgets task 1: ${ft2![0]}`);

    // What the page draws: the lower triangle of each matrix (update i x task j <= i), with the recorded values.
    const cells = await page.$$eval("#lane-rd svg.matrix rect[data-accuracy]", (rects) =>
      rects.map((r) => [Number(r.getAttribute("data-row")), Number(r.getAttribute("data-col")), Number(r.getAttribute("data-accuracy"))]),
    );
    assert.deepEqual(cells.map(([i, j]) => [i, j]), [[0, 0], [1, 0], [1, 1]]);
    for (const [i, j, a] of cells) assert.ok(Math.abs(a! - rows["rd"]![i!]![j!]!) < 1e-4);
    await expectStatus(page, /Next: update 3 of 5/);

    // Reloaded, the page resumes from IndexedDB at update 3 with the same matrices.
    await page.reload();
    await page.evaluate(() => window.relearnDemo.ready);
    assert.deepEqual(await page.evaluate(() => window.relearnDemo.rows()), rows);
    await expectStatus(page, /Next: update 3 of 5/);

    // Export downloads the stored state as a zip.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#lane-rd .export")]);
    assert.equal(download.suggestedFilename(), "relearn-demo-rd.relearn.zip");
    const zip = await readFile(await download.path());
    assert.ok(zip.length > 10_000, `${zip.length} bytes`);
    assert.equal(zip.subarray(0, 4).toString("hex"), "504b0304", "a zip archive");

    assert.deepEqual(problems, []);

    // A damaged stored state is an error on the page, never a fresh start; start over is the way out.
    const damaged = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open("relearn-demo");
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const store = db.transaction("files", "readwrite").objectStore("files");
      const keys = await new Promise<IDBValidKey[]>((resolve) => {
        const request = store.getAllKeys();
        request.onsuccess = () => resolve(request.result);
      });
      const key = keys.find((k) => Array.isArray(k) && k[0] === "relearn-demo-rd" && String(k[1]).endsWith("weights.bin"));
      if (key === undefined) return `no weights.bin among ${JSON.stringify(keys)}`;
      const record = await new Promise<{ bytes: Uint8Array }>((resolve) => {
        const request = store.get(key);
        request.onsuccess = () => resolve(request.result as { bytes: Uint8Array });
      });
      record.bytes[0] = record.bytes[0]! ^ 0xff;
      await new Promise((resolve) => (store.put(record).onsuccess = resolve));
      db.close();
      return String((key as IDBValidKey[])[1]);
    });
    assert.match(damaged, /weights\.bin$/);
    await page.reload();
    await page.evaluate(() => window.relearnDemo.ready).catch(() => undefined);
    const banner = (await page.textContent("#error")) ?? "";
    assert.match(banner, /^StateError: .*relearn-demo-rd.*weights\.bin/s, banner);
    assert.match(banner, /Start over/);
    // The page reports the error on the console too (and only that one); taken out of the list, which must stay empty.
    const logged: string[] = (problems as string[]).splice(0);
    assert.ok(logged.length === 1 && logged[0]!.includes("StateError"), logged.join("\n"));

    // Start over asks first, then forgets everything, also across a reload.
    const asked: string[] = [];
    page.once("dialog", (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await page.click("#reset");
    await page.waitForFunction(() => !(document.querySelector<HTMLButtonElement>("#next")?.disabled ?? true));
    assert.deepEqual(await page.evaluate(() => window.relearnDemo.rows()), { rd: [], ft: [] });
    await page.reload();
    await page.evaluate(() => window.relearnDemo.ready);
    assert.deepEqual(await page.evaluate(() => window.relearnDemo.rows()), { rd: [], ft: [] });
    await expectStatus(page, /Next: update 1 of 5/);
    assert.match(asked.join(), /^Start over\? Both models/);

    // A reload while RD still trains (fine-tuning already done) leaves the lanes one update apart: the next update
    // runs RD alone, so the page compares like with like again. RD is the slower lane, but a reload can still come
    // after both finished: then the lanes are level and the scenario is tried again, at most three times.
    let apart: Record<string, (number[] | null)[]> = {};
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = (await page.evaluate(() => window.relearnDemo.rows()))["ft"]!.length;
      void page.evaluate(() => window.relearnDemo.runNext()).catch(() => undefined);
      await page.waitForFunction((n) => window.relearnDemo.rows()["ft"]?.length === n + 1, before, { polling: 10 });
      await page.reload();
      await page.evaluate(() => window.relearnDemo.ready);
      apart = await page.evaluate(() => window.relearnDemo.rows());
      if (apart["rd"]!.length < apart["ft"]!.length) break;
    }
    const [rdDone, ftDone] = [apart["rd"]!.length, apart["ft"]!.length];
    assert.equal(rdDone + 1, ftDone, `RD's update was cut short by the reload in one of three tries (rd ${rdDone}, ft ${ftDone})`);
    await expectStatus(page, new RegExp(`Repeated Distillation catches up with update ${ftDone} of 5`));
    await page.evaluate(() => window.relearnDemo.runNext());
    const level = await page.evaluate(() => window.relearnDemo.rows());
    assert.deepEqual([level["rd"]!.length, level["ft"]!.length], [ftDone, ftDone], "only RD trained");
    await expectStatus(page, new RegExp(`Next: update ${ftDone + 1} of 5`));
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await server.close();
  }
});

test("npm run demo:browser serves the page, its bundles, the data and the .wasm files on 127.0.0.1 and prints the URL", { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ["scripts/demo-browser.mjs", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /relearn browser demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
        if (found) resolve(found[1]!);
      });
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("exit", (code) => reject(new Error(`demo:browser exited with ${code}: ${output}`)));
    });
    for (const [path, type] of [
      ["", "text/html"],
      ["main.js", "text/javascript"],
      ["worker.js", "text/javascript"],
      ["data/train-images-idx3-ubyte.gz", "application/octet-stream"],
      ["wasm/tfjs-backend-wasm-simd.wasm", "application/wasm"],
    ] as const) {
      const response = await fetch(url + path);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get("content-type") ?? "", new RegExp(type), path);
      assert.ok((await response.arrayBuffer()).byteLength > 0, path);
    }
    for (const path of ["data/../package.json", "data/LICENSE-fashion-mnist", "wasm/x.wasm", "src/core.ts"]) {
      assert.equal((await fetch(url + path)).status, 404, path);
    }
  } finally {
    child.kill();
  }
  const bad = spawnSync(process.execPath, ["scripts/demo-browser.mjs", "--port", "http"], { encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--port must be an integer/);
});
