import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createImportProbe, REPORTING_PACKAGES } from "../helpers/import_probe.js";

// sharp, vega and vega-lite are most of the install and ~2 s of import time; only a
// benchmark report uses them, so they load when one is written, not with the library.
function importsOf(args: string[], status = 0): Set<string> {
  const probe = createImportProbe();
  const run = spawnSync(process.execPath, ["--import", probe.registerFile, "--import", "tsx", ...args], { encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, status, run.stderr);
  return probe.specifiers();
}

test("importing the library's entry does not load the reporting packages (sharp, vega, vega-lite)", () => {
  const imports = importsOf(["--input-type=module", "-e", 'const lib = await import("./src/index.ts"); console.log(typeof lib.writeResultsFolder);']);
  assert.ok(imports.has("@tensorflow/tfjs-core"), `the probe sees bare imports: ${[...imports].join(", ")}`);
  for (const name of REPORTING_PACKAGES) assert.equal(imports.has(name), false, `${name} was imported`);
});

test("relearn --help does not load the reporting packages either", () => {
  const imports = importsOf(["src/cli/main.ts", "--help"]);
  assert.ok(imports.has("commander"), `the probe sees bare imports: ${[...imports].join(", ")}`);
  for (const name of REPORTING_PACKAGES) assert.equal(imports.has(name), false, `${name} was imported`);
});

test("relearn --help and the library's entry do not load the job queue's packages (bullmq, ioredis)", () => {
  for (const args of [["src/cli/main.ts", "--help"], ["--input-type=module", "-e", 'await import("./src/index.ts");']]) {
    const imports = importsOf(args);
    for (const name of ["bullmq", "ioredis"]) assert.equal(imports.has(name), false, `${name} was imported by ${args.join(" ")}`);
  }
  const worker = importsOf(["src/cli/main.ts", "worker", "--redis", "redis://127.0.0.1:1", "--connect-tries", "1"], 1);
  assert.ok(worker.has("ioredis"), `relearn worker loads them (the probe sees them): ${[...worker].join(", ")}`);
});

test("writing a results folder does load them (the probe sees them when they are used)", () => {
  const script = `
    const { writeResultsFolder } = await import("./src/reporting/files.ts");
    const { fakeResults } = await import("./test/reporting/fake_results.ts");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const dir = mkdtempSync((await import("node:os")).tmpdir() + "/relearn-probe-");
    await writeResultsFolder(dir, fakeResults(), { pngs: true });
    rmSync(dir, { recursive: true, force: true });`;
  const imports = importsOf(["--input-type=module", "-e", script]);
  for (const name of REPORTING_PACKAGES) assert.ok(imports.has(name), `${name} was not imported: ${[...imports].join(", ")}`);
});
