/**
 * The page of bench/browser.ts: runs the measured work (browser_work.ts) as
 * soon as it loads, on the backend named by `?backend=` (wasm, cpu or webgl:
 * the WebGL package is bundled in), and leaves the
 * result (or the error) in `globalThis.relearnBench`.
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgl";
import { initBackend, type BackendName } from "../src/backend/backend.js";
import { fashionMnistFromGzip, runBrowserBench, type BrowserBenchResult } from "./browser_work.js";

async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function run(): Promise<BrowserBenchResult> {
  const backend = (new URLSearchParams(location.search).get("backend") ?? "wasm") as BackendName;
  setWasmPaths(`${location.origin}/node_modules/@tensorflow/tfjs-backend-wasm/dist/`);
  // performance.now() counts from navigation start: the first update's time includes loading this bundle.
  const load = async () => {
    const folder = "/data/fashion-mnist-subset";
    const [images, labels] = await Promise.all([
      fetchBytes(`${folder}/train-images-idx3-ubyte.gz`),
      fetchBytes(`${folder}/train-labels-idx1-ubyte.gz`),
      initBackend(backend),
    ]);
    return fashionMnistFromGzip(images, labels);
  };
  return runBrowserBench(load, 0);
}

(globalThis as unknown as { relearnBench: Promise<BrowserBenchResult> }).relearnBench = run();
