import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

// The README's transfer-learning example must run as written: a frozen pre-trained body under RD stays bit for
// bit what it was (RD re-initialised it at random before: accuracy 0.56 then 0.25, see issue 10 part 2).
test("the README transfer-learning example runs: the frozen body is unchanged and RD keeps the accuracy", () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "examples/transfer_learning.ts"], { encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /frozen body unchanged, bit for bit: true/);
  const first = /after update 1, accuracy on classes 0-4: ([\d.]+)/.exec(run.stdout);
  const second = /after update 2, accuracy on all 10 classes: ([\d.]+)/.exec(run.stdout);
  assert.ok(first && second, run.stdout);
  assert.ok(Number(first[1]) > 0.75, `update 1 learns classes 0-4 on the pre-trained features: ${first[1]}`);
  assert.ok(Number(second[1]) > 0.6, `update 2 keeps the old classes and learns the new ones: ${second[1]}`);
});
