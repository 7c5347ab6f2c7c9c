import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { headerComment } from "../../bench/cli_args.js";

test("headerComment: the first block comment without its markers", () => {
  assert.equal(headerComment('#!/usr/bin/env node\n/**\n * Line one.\n *\n *   npx tsx x.ts [--a]\n */\nimport "x";\n/** later */'), "Line one.\n\n  npx tsx x.ts [--a]");
  assert.equal(headerComment("const a = 1;"), "");
});

// Every bench script with flags: --help prints its usage, an unknown flag is a one-line error (exit 2), not a stack
// trace and never ignored.
for (const script of ["quality_bars", "end_to_end", "memory_breakdown", "queue_scaling", "import_time", "browser", "drift"]) {
  test(`bench/${script}.ts: --help prints its usage; an unknown flag is a clear error`, () => {
    const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", `bench/${script}.ts`, ...args], { encoding: "utf8", timeout: 60_000 });
    const help = run(["--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`npx tsx bench/${script}\\.ts`));
    const bad = run(["--no-such-flag"]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, new RegExp(`^bench/${script}\\.ts: .*'--no-such-flag'.*\\nRun \`npx tsx bench/${script}\\.ts --help\``));
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  });
}
