/**
 * How long `import "relearn"` takes in a fresh Node process, from the built
 * package (dist/, as users get it), against the same import plus the chart
 * module that reporting/files.ts used to import eagerly (vega, vega-lite,
 * sharp): the cost every user paid before the chart module became a dynamic
 * import, and now only pays when a benchmark report is written.
 *
 *   npm run build && npx tsx bench/import_time.ts [--runs 7]
 *
 * Prints a markdown table of the median and min wall time over the runs
 * (each run a new process; a first, cold-cache run of each case is discarded).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { benchArgs } from "./cli_args.js";

const values = benchArgs(import.meta.url, { runs: { type: "string", default: "7" } });
const runs = Number(values.runs);
if (!existsSync("dist/index.js")) {
  console.error("import_time: dist/ is missing; run npm run build first");
  process.exit(1);
}

const cases = [
  { name: 'import "relearn" (entry only; charts load on demand)', script: 'await import("./dist/index.js");' },
  {
    name: "entry + chart module (what the entry loaded before)",
    script: 'await import("./dist/index.js"); await import("./dist/reporting/charts.js");',
  },
];

function timeOnce(script: string): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`import failed: ${run.stderr}`);
  return performance.now() - started;
}

// Cases alternate run by run, so a change in the machine's load hits both alike.
for (const { script } of cases) timeOnce(script); // warm the file cache
const times = cases.map(() => [] as number[]);
for (let run = 0; run < runs; run++) cases.forEach(({ script }, c) => times[c]!.push(timeOnce(script)));
const rows = cases.map(({ name }, c) => {
  const sorted = times[c]!.sort((a, b) => a - b);
  return { name, median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]! };
});
console.log(`| import (${runs} fresh processes each) | median ms | min ms |\n|---|---|---|`);
for (const row of rows) console.log(`| ${row.name} | ${row.median.toFixed(0)} | ${row.min.toFixed(0)} |`);
