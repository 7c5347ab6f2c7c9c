import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// `npm run relearn -- ... --json` prints npm's "> relearn ..." banner on stdout before
// the JSON, so a script piping it into a JSON parser breaks. The README shows `npm run -s`
// (or `npx relearn` for an installed package) wherever it asks for --json.

test("every README command that asks for --json through npm run silences npm (-s)", () => {
  const lines = readFileSync("README.md", "utf8").split("\n");
  const unsilenced = lines.filter((line) => /npm run(?! -s)\S* relearn\b.*--json/.test(line));
  assert.deepEqual(unsilenced, []);
  assert.ok(lines.some((line) => line.includes("npm run -s relearn -- ... --json")), "the README says how to get pure JSON");
});

test("npm run -s relearn -- <command> --json prints only JSON on stdout", () => {
  const dir = mkdtempSync(join(tmpdir(), "relearn-json-"));
  try {
    const run = spawnSync("npm", ["run", "-s", "relearn", "--", "init", "--config", join(dir, "relearn.json"), "--json"], { encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const config = JSON.parse(run.stdout) as { updater: string };
    assert.equal(config.updater, "rd");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
