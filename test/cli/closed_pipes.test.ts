// `relearn update ... 2>&1 | head -1`: the reader leaves after one line. The update must still finish and write its
// state (exit 0, no lock left), not die between epochs with Node's exit code 7 (found by a tester).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder } from "../helpers/workflow_files.js";

test("an update whose stdout and stderr readers leave at once still finishes and writes its state", { timeout: 120_000 }, async () => {
  const dir = await workflowFolder();
  try {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"), "--output-state", join(dir, "s"), "--epochs", "3"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // Like `| head -1`: read the first bytes, then close both pipes while the update runs.
    await new Promise<void>((resolve) => child.stderr.once("data", () => resolve()));
    child.stdout.destroy();
    child.stderr.destroy();
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    assert.equal(code, 0);
    const manifest = JSON.parse(await readFile(join(dir, "s", "manifest.json"), "utf8")) as { data: { updatesDone: number } };
    assert.equal(manifest.data.updatesDone, 1);
    assert.ok(!existsSync(join(dir, "s.lock")), "no lock left behind");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
