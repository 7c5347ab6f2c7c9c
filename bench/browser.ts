/**
 * Browser numbers (issue 11 part 6), measured in one run: the size of the
 * browser entry's bundle (minified, and gzipped), then time to first update,
 * one RD update and ms per training step in Chromium and Firefox ESR against
 * Node's single-thread wasm on the same work (bench/browser_work.ts: the
 * bundled Fashion-MNIST subset, MLP 784-256-256-10, RD memory 200, batch 32,
 * one epoch per phase).
 *
 *   npx tsx bench/browser.ts            # Chromium and Firefox ESR, wasm and webgl
 *   npx tsx bench/browser.ts --cpu      # also the cpu backend
 *
 * webgl runs on SwiftShader (software) on a machine without a GPU: a row that
 * shows it works, not a speed to compare.
 *
 * Node's "first update" counts from just before the backend starts (module
 * import not included); a page's counts from navigation start (bundle load,
 * data fetch and gunzip, wasm start).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { initBackend } from "../src/backend/backend.js";
import {
  REPO_ROOT, bundle, firefoxSkipReason, launchBrowser, serve, type BrowserName,
} from "../test/browser/harness.js";
import { fashionMnistFromGzip, runBrowserBench, type BrowserBenchResult } from "./browser_work.js";
import { benchArgs } from "./cli_args.js";

const BROWSER_ENTRY = "src/browser.ts";
/** wasm is the comparison; webgl (SwiftShader here: no GPU) is a functional row; cpu on request. */
const backends = benchArgs(import.meta.url, { cpu: { type: "boolean", default: false } }).cpu ? ["wasm", "webgl", "cpu"] : ["wasm", "webgl"];

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;
const ms = (value: number): string => value.toFixed(1);

async function bundleSizes(): Promise<void> {
  const code = await bundle(BROWSER_ENTRY, { minify: true });
  const bytes = Buffer.byteLength(code);
  console.log(`bundle of ${BROWSER_ENTRY} (esbuild, browser, esm, minified, tfjs included, .wasm files not):`);
  console.log(`  minified ${kb(bytes)}, gzip ${kb(gzipSync(code, { level: 9 }).length)}`);
}

async function nodeRun(): Promise<BrowserBenchResult> {
  const startedAt = performance.now();
  const folder = join(REPO_ROOT, "data", "fashion-mnist-subset");
  return runBrowserBench(async () => {
    await initBackend("wasm", { wasmThreads: 1 });
    const [images, labels] = await Promise.all([
      readFile(join(folder, "train-images-idx3-ubyte.gz")),
      readFile(join(folder, "train-labels-idx1-ubyte.gz")),
    ]);
    return fashionMnistFromGzip(images, labels);
  }, startedAt);
}

async function browserRun(name: BrowserName, url: string): Promise<BrowserBenchResult> {
  const browser = await launchBrowser(name, { webgl: true });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const result = await page.evaluate<BrowserBenchResult>("globalThis.relearnBench");
    if (page.problems.length > 0) throw new Error(`${name} logged errors:\n${page.problems.join("\n")}`);
    return result;
  } finally {
    await browser.close();
  }
}

/** One measured runtime: its result, or why it failed. */
interface Measured {
  runtime: string;
  backend: string;
  result?: BrowserBenchResult;
  failure?: string;
}

async function main(): Promise<void> {
  await bundleSizes();
  const server = await serve({ bench: await bundle("bench/browser_page.ts") });
  const measured: Measured[] = [];
  let node: BrowserBenchResult;
  try {
    // Node runs first and last and keeps its faster warm numbers: the machine's load varies during the run.
    node = await nodeRun();
    for (const name of ["chromium", "firefox"] as const) {
      const skip = name === "firefox" ? firefoxSkipReason() : undefined;
      if (skip !== undefined) {
        console.log(skip);
        continue;
      }
      for (const backend of backends) {
        try {
          measured.push({ runtime: name, backend, result: await browserRun(name, `${server.pageUrl("bench")}?backend=${backend}`) });
        } catch (error) {
          // The innermost error inside the driver's wrapping, e.g. "BackendError: backend "webgl" could not start: ...".
          const text = String(error);
          const innermost = [...text.matchAll(/\b\w*Error: /g)].at(-1)?.index ?? 0;
          measured.push({ runtime: name, backend, failure: text.slice(innermost).split(/[#\n]/)[0] ?? text });
        }
      }
    }
    const again = await nodeRun();
    node.rdUpdateMs = Math.min(node.rdUpdateMs, again.rdUpdateMs);
    node.msPerStep = Math.min(node.msPerStep, again.msPerStep);
  } finally {
    await server.close();
  }
  printTable(node, measured);
}

function printTable(node: BrowserBenchResult, measured: readonly Measured[]): void {
  const ratio = (value: number, base: number): string => `${(value / base).toFixed(2)}x`;
  const failures: string[] = [];
  const rows: string[][] = [
    ["runtime", "backend", "first update ms", "RD update ms", "RD vs Node", "ms / Adam step (b32)", "step vs Node"],
    [`node ${process.version}`, "wasm 1 thread", ms(node.firstUpdateMs), ms(node.rdUpdateMs), "1.00x", ms(node.msPerStep), "1.00x"],
  ];
  for (const { runtime, backend, result, failure } of measured) {
    if (result === undefined) {
      failures.push(`${runtime} ${backend}: ${failure ?? "no result"}`);
      rows.push([runtime, backend, `fails (${failures.length})`, "", "", "", ""]);
      continue;
    }
    rows.push([
      runtime, backend, ms(result.firstUpdateMs), ms(result.rdUpdateMs), ratio(result.rdUpdateMs, node.rdUpdateMs),
      ms(result.msPerStep), ratio(result.msPerStep, node.msPerStep),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
  failures.forEach((failure, i) => console.log(`(${i + 1}) ${failure}`));
}

await main();
