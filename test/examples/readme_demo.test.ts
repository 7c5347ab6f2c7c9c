// The README's first command, `npm run demo`, and the numbers the README quotes for it must agree: the demo is seeded,
// so its average accuracies are exact, and a change to the seeding (as 19161a1) must update the README with them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("npm run demo gives the average accuracies the README quotes for it", { timeout: 600_000 }, async () => {
  const readme = await readFile("README.md", "utf8");
  const quoted = /The demo takes .*?: RD ([\d.]+), fine-tuning ([\d.]+), joint ([\d.]+) average accuracy/s.exec(readme);
  assert.ok(quoted, "the README quotes the demo's results after its two commands");
  const script = (JSON.parse(await readFile("package.json", "utf8")) as { scripts: { demo: string } }).scripts.demo;
  const args = script.split(/\s+/).slice(2); // "tsx src/cli/main.ts benchmark ...": the CLI's arguments
  const out = await mkdtemp(join(tmpdir(), "relearn-readme-demo-"));
  try {
    const outAt = args.indexOf("--out");
    assert.ok(outAt > 0, script);
    args[outAt + 1] = out;
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args, "--json", "--no-png"], { encoding: "utf8", timeout: 540_000 });
    assert.equal(run.status, 0, run.stderr);
    const groups = (JSON.parse(run.stdout) as { groups: { updater: string; finalAverageAccuracy: { mean: number } }[] }).groups;
    const measured = ["rd", "fine-tuning", "joint"].map((name) => groups.find((g) => g.updater === name)!.finalAverageAccuracy.mean.toFixed(3));
    assert.deepEqual(measured, [quoted[1], quoted[2], quoted[3]]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
