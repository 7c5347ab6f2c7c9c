import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs-core";
import { defaultWasmThreads, parseThreads, startWithWasmThreads } from "../../src/backend/wasm_threads.js";
import { MAX_WASM_THREADS } from "../../src/backend/wasm_thread_limits.js";

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "thread_probe.ts");

interface ProbeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Whether the probe had to be killed: it did not end by itself. */
  hung: boolean;
}

/** Runs the probe in its own process with RELEARN_WASM_THREADS = threads. */
function runProbe(threads: string, extraEnv: Record<string, string> = {}): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", PROBE], {
      env: { ...process.env, RELEARN_WASM_THREADS: threads, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let hung = false;
    // Generous: the probe takes about 2 s, but CI runs test files side by side.
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    });
  });
}

function parsed(run: ProbeRun): { threads: number; digest: string; reason: string } {
  assert.equal(run.hung, false, "the process did not exit by itself (a pthread worker kept it alive?)");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as { threads: number; digest: string; reason: string };
}

test("wasm runs on 2 XNNPACK threads in Node when asked, the process still exits by itself, and training gives the same weights bit for bit as on 1 thread", async () => {
  const [one, two] = await Promise.all([runProbe("1"), runProbe("2")]);
  const single = parsed(one);
  const threaded = parsed(two);
  assert.equal(single.threads, 1);
  assert.equal(threaded.threads, 2);
  assert.equal(threaded.digest, single.digest);
});

test("a bad RELEARN_WASM_THREADS stops the process with a message naming it", async () => {
  const run = await runProbe("many");
  assert.equal(run.hung, false);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /RELEARN_WASM_THREADS must be an integer from 1 to 4; got "many"/);
});

test("default thread count: one per core, at most 4, unless RELEARN_WASM_THREADS says otherwise", () => {
  const saved = process.env.RELEARN_WASM_THREADS;
  try {
    delete process.env.RELEARN_WASM_THREADS;
    assert.equal(defaultWasmThreads(), Math.min(MAX_WASM_THREADS, os.availableParallelism()));
    process.env.RELEARN_WASM_THREADS = "3";
    assert.equal(defaultWasmThreads(), 3);
  } finally {
    if (saved === undefined) delete process.env.RELEARN_WASM_THREADS;
    else process.env.RELEARN_WASM_THREADS = saved;
  }
  assert.equal(parseThreads("4", "x"), 4);
  for (const bad of ["0", "5", "1.5", "-1", "two"]) assert.throws(() => parseThreads(bad, "x"), /x must be an integer from 1 to 4/);
});

test("the CLI's --wasm-threads is checked before any work, before or after the command name", () => {
  for (const args of [["--wasm-threads", "9", "inspect", "nowhere"], ["inspect", "nowhere", "--wasm-threads", "0"]]) {
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /--wasm-threads must be an integer from 1 to 4/);
  }
});

test("while the threaded start runs, Node is patched as tfjs needs; afterwards nothing is; a failed start falls back to 1 thread", async () => {
  // tfjs's Emscripten code reads the CommonJS os module, the one that is patched.
  const cjsOs = createRequire(import.meta.url)("node:os") as typeof os;
  const realCpus = cjsOs.cpus().length;
  let calls = 0;
  const note = await startWithWasmThreads(2, async () => {
    calls++;
    if (calls > 1) return;
    // The first (threaded) attempt sees the patches, then fails as a worker that cannot load would.
    assert.ok(cjsOs.cpus().length >= 4, "the pool is sized from os.cpus() / 2");
    const workerUrl = URL.createObjectURL(new Blob(["x"], { type: "application/javascript" }));
    assert.ok(existsSync(workerUrl), `the worker script is a real file: ${workerUrl}`);
    assert.match(readFileSync(workerUrl, "utf8"), /^"use strict";var Module=\{\};/);
    const config: { mainScriptUrlOrBlob?: unknown } = {};
    config.mainScriptUrlOrBlob = new Blob(["var WasmBackendModuleThreadedSimd = 1"], { type: "text/javascript" });
    assert.match(String(config.mainScriptUrlOrBlob), /tfjs-backend-wasm-threaded-simd\.js$/);
    assert.equal(tf.env().get("WASM_HAS_MULTITHREAD_SUPPORT"), true);
    throw new Error("worker failed to load");
  });
  assert.equal(calls, 2);
  assert.equal(note, "2 wasm threads could not start (worker failed to load); running on 1");
  assert.equal(tf.env().get("WASM_HAS_MULTITHREAD_SUPPORT"), false);
  assert.equal(Object.getOwnPropertyDescriptor(Object.prototype, "mainScriptUrlOrBlob"), undefined);
  assert.equal(cjsOs.cpus().length, realCpus);
  assert.match(URL.createObjectURL(new Blob(["x"], { type: "application/javascript" })), /^blob:/);
});
