import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { workflowFolder } from "../helpers/workflow_files.js";

test("Ctrl-C during update --tune: exit 130, nothing written, no trial folder left", async () => {
  const dir = await workflowFolder(20);
  try {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "update", "--config", join(dir, "relearn.json"), "--data", join(dir, "chunk1.csv"),
      "--val", join(dir, "test.csv"), "--tune", "50", "--output-state", join(dir, "v1")], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    await new Promise<void>((started) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/run 1\/50/.test(stderr)) started();
      });
      void exited.then(() => started());
    });
    assert.ok((await readdir(dir)).some((name) => name.startsWith("v1.tune-")), "trials write beside the output");
    child.kill("SIGINT");
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /interrupted \(SIGINT\), nothing written: .*v1 is unchanged/);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("v1")), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
