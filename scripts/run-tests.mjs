#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner (through tsx), because
// `node --test test/` does not pick up .ts files on Node 20 and would pass with
// zero tests. Fails when a test fails AND when no test ran at all.
// Usage: node scripts/run-tests.mjs [substring filters...]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = findTests("test")
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}

const scratch = mkdtempSync(join(tmpdir(), "relearn-tests-"));
const tapFile = join(scratch, "report.tap");
const result = spawnSync(
  process.execPath,
  [
    "--import", "tsx",
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec", "--test-reporter-destination=stdout",
    "--test-reporter=tap", `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  {
    stdio: "inherit",
    // Two test files run at once on a 2-core machine: one wasm thread each, so
    // XNNPACK's spinning thread pools do not fight for the cores. Threads have
    // their own tests (test/backend/wasm_threads.test.ts starts processes with 2).
    env: { ...process.env, RELEARN_WASM_THREADS: process.env.RELEARN_WASM_THREADS ?? "1" },
  },
);
const tap = readFileSync(tapFile, "utf8");
rmSync(scratch, { recursive: true, force: true });
const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)$`, "m")) ?? [])[1] ?? 0);
const tests = count("tests");
// A test cancelled because its suite's setup failed (e.g. a browser that is not
// installed, test/browser/harness.ts) did not pass: it counts as failed.
const cancelled = count("cancelled");
const failed = count("fail") + cancelled;
const passed = count("pass");
const skipped = count("skipped");
const note = cancelled > 0 ? ` (${cancelled} cancelled: their suite's setup failed)` : "";
console.log(`tests: ${passed} passed, ${failed} failed${note}, ${skipped} skipped`);
if (tests === 0) {
  console.error("run-tests: no test ran");
  process.exit(1);
}
process.exit(result.status === 0 && failed === 0 ? 0 : 1);
