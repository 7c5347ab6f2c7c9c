/**
 * The benchmark issue's quality bars, measured: full Split Fashion-MNIST,
 * class-incremental 5 x 2, MLP 784-256-256-10, Adam 1e-3, batch 32, 5 epochs,
 * seeds 0,1,2, every updater x memory size. Each (updater, memory size) is one
 * `relearn benchmark` shard in its own process (so two run at once on two
 * cores) writing results/quality/<scenario>/<shard>/; finished shards are
 * skipped, so an interrupted run resumes. Then all runs are summarised into one
 * table, checked against the bars, and written to docs/results.md.
 *
 *   npx tsx bench/quality_bars.ts [--jobs 2] [--updaters rd,er,...] [--memory-sizes 200,500,2000]
 *       [--seeds 0,1,2] [--epochs 5] [--scenario class-incremental] [--dataset fashion-mnist] [--no-docs]
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BenchmarkResults, RunResult } from "../src/reporting/results.js";
import { summarizeResults, summaryToMarkdown, type BenchmarkSummary } from "../src/reporting/summary.js";
import { updaterEntry } from "../src/updaters/registry.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "2" },
    updaters: { type: "string", default: "fine-tuning,joint,rd,er,offline-er,der++,gdumb" },
    "memory-sizes": { type: "string", default: "200,500,2000" },
    seeds: { type: "string", default: "0,1,2" },
    epochs: { type: "string", default: "5" },
    scenario: { type: "string", default: "class-incremental" },
    dataset: { type: "string", default: "fashion-mnist" },
    out: { type: "string", default: "results/quality" },
    "no-docs": { type: "boolean", default: false },
    "train-per-task": { type: "string" },
    "test-per-task": { type: "string" },
  },
});

const root = join(args.out!, args.scenario!);
const threadsPerJob = Math.max(1, Math.min(4, Math.floor(availableParallelism() / Number(args.jobs))));
const shards: { name: string; flags: string[] }[] = [];
for (const updater of args.updaters!.split(",")) {
  const sizes = updaterEntry(updater).usesMemory ? args["memory-sizes"]!.split(",") : [null];
  for (const size of sizes) {
    const name = size === null ? updater : `${updater}-m${size}`;
    shards.push({
      name,
      flags: [
        "benchmark", "--dataset", args.dataset!, "--scenario", args.scenario!, "--tasks", "5", "--updaters", updater,
        ...(size === null ? [] : ["--memory-sizes", size]),
        "--seeds", args.seeds!, "--epochs", args.epochs!, "--batch-size", "32", "--lr", "1e-3", "--model", "mlp:256,256",
        "--out", join(root, name), "--no-png",
        ...(args["train-per-task"] ? ["--train-per-task", args["train-per-task"]] : []),
        ...(args["test-per-task"] ? ["--test-per-task", args["test-per-task"]] : []),
      ],
    });
  }
}

async function runShard(shard: (typeof shards)[number]): Promise<void> {
  if (existsSync(join(root, shard.name, "summary.json"))) {
    console.log(`${shard.name}: done before, skipped`);
    return;
  }
  await mkdir(join(root, shard.name), { recursive: true });
  const started = Date.now();
  console.log(`${shard.name}: started`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...shard.flags], {
      stdio: ["ignore", "ignore", "pipe"],
      // The jobs share the cores: each gets its share of wasm threads.
      env: { ...process.env, RELEARN_WASM_THREADS: process.env.RELEARN_WASM_THREADS ?? String(threadsPerJob) },
    });
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000)));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${shard.name} failed (${code}):\n${tail}`))));
  });
  console.log(`${shard.name}: finished in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

const queue = [...shards];
await Promise.all(
  Array.from({ length: Number(args.jobs) }, async () => {
    for (let shard = queue.shift(); shard; shard = queue.shift()) await runShard(shard);
  }),
);

// Merge every shard's runs into one result and summarise.
let merged: BenchmarkResults | undefined;
for (const shard of shards) {
  const file = JSON.parse(await readFile(join(root, shard.name, "summary.json"), "utf8")) as { summary: Omit<BenchmarkResults, "runs">; runs: RunResult[] };
  merged ??= { ...file.summary, runs: [] } as BenchmarkResults;
  merged.runs.push(...file.runs);
}
const summary = summarizeResults(merged!);
const table = summaryToMarkdown(summary);
console.log(`\n${table}`);

// The bars of the benchmark issue.
const finalAccuracy = (summary: BenchmarkSummary, updater: string, memory: number | null) =>
  summary.groups.find((g) => g.updater === updater && g.memorySize === memory)?.finalAverageAccuracy.mean;
const ft = finalAccuracy(summary, "fine-tuning", null);
const checks: [string, number | undefined, (v: number) => boolean][] = [
  ["fine-tuning <= 0.25", ft, (v) => v <= 0.25],
  ["joint >= 0.80", finalAccuracy(summary, "joint", null), (v) => v >= 0.8],
  ["RD (m=500) >= 0.45", finalAccuracy(summary, "rd", 500), (v) => v >= 0.45],
  ...(["er", "der++", "gdumb"] as const).map(
    (u) => [`${u} (m=500) clearly above fine-tuning (+0.10)`, finalAccuracy(summary, u, 500), (v: number) => ft !== undefined && v >= ft + 0.1] as [string, number | undefined, (v: number) => boolean],
  ),
];
// The bars are the benchmark issue's, for class-incremental Split Fashion-MNIST only.
const barLines = args.scenario !== "class-incremental" ? [] : checks.map(([name, value, ok]) => {
  const verdict = value === undefined || ft === undefined ? "not measured" : ok(value) ? "PASS" : "FAIL";
  return `- ${verdict}: ${name} (measured ${value?.toFixed(3) ?? "-"})`;
});
console.log(barLines.join("\n"));

if (!args["no-docs"]) {
  const section = [
    `## ${summary.dataset}, ${summary.scenario} ${summary.tasks} tasks`,
    "",
    `MLP 784-256-256-10, Adam lr 1e-3, batch 32, ${summary.epochs} epochs per phase, seeds ${args.seeds}, backend ${summary.backend}.`,
    `Made with \`npx tsx bench/quality_bars.ts --scenario ${args.scenario} --updaters ${args.updaters} --memory-sizes ${args["memory-sizes"]} --seeds ${args.seeds}${args["train-per-task"] ? ` --train-per-task ${args["train-per-task"]}` : ""}\`.`,
    "Values are mean +/- std over seeds after the last update; time is the total wall time of all updates of one run, in seconds.",
    "",
    table,
    "",
    ...(barLines.length > 0 ? ["Quality bars:", "", ...barLines] : []),
    "",
  ].join("\n");
  const docs = "docs/results.md";
  const marker = `<!-- ${args.dataset} ${args.scenario} -->`;
  const existing = existsSync(docs) ? await readFile(docs, "utf8") : "# Benchmark results\n\nWhat to expect from each updater, measured on this project's reference machine (2 cores, wasm backend).\n\n";
  const start = existing.indexOf(marker);
  const end = start < 0 ? -1 : existing.indexOf("<!-- end -->", start);
  const block = `${marker}\n${section}<!-- end -->\n`;
  const next = start < 0 ? `${existing}\n${block}` : existing.slice(0, start) + block + existing.slice(end + "<!-- end -->\n".length);
  await writeFile(docs, next);
  console.log(`\nwrote ${docs}`);
}
