/**
 * The results tables of docs/results.md, measured: full Split Fashion-MNIST,
 * MLP 784-256-256-10, Adam 1e-3, batch 32, 5 epochs, seeds 0,1,2, every
 * updater x memory size. Each (updater, memory size) is one `relearn
 * benchmark` shard in its own process (so two run at once on two cores)
 * writing results/quality/<scenario>/<shard>/; finished shards are skipped, so
 * an interrupted run resumes (and a later session continues it). Then all runs
 * of a table are summarised, checked against the quality bars (class-IL), and
 * written to their section of docs/results.md.
 *
 * Every table of the docs, every updater (one command; hours on 2 cores):
 *   npx tsx bench/quality_bars.ts --table all          (npm run results)
 * One table, or a part of one:
 *   npx tsx bench/quality_bars.ts --table permuted [--updaters rd,er,...] [--memory-sizes 500] [--seeds 0]
 * Free form (no preset): --scenario, --memory-sizes, --seeds, --epochs, --dataset, --train-per-task, ...
 *   [--jobs 2] [--no-docs] [--out results/quality]
 * Only remake the tables from the shards measured so far, running none (the table names the updaters still missing):
 *   npx tsx bench/quality_bars.ts --table all --no-run
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BenchmarkResults, RunResult } from "../src/reporting/results.js";
import { summarizeResults, summaryToMarkdown, type BenchmarkSummary } from "../src/reporting/summary.js";
import { UPDATER_NAMES, updaterEntry } from "../src/updaters/registry.js";
import { benchArgs } from "./cli_args.js";

/** A table of docs/results.md: what it measures, and the marker of its section there. */
interface TableSettings {
  scenario: string;
  dataset: string;
  memorySizes: string;
  seeds: string;
  epochs: string;
  trainPerTask?: string | undefined;
  testPerTask?: string | undefined;
  /** One line under the heading saying what a task is. */
  about: string;
}

/** The issue-13 grid: class-IL and permuted at memory 200/500/2000, task-IL at 500; 3 seeds, 5 epochs. */
const TABLES: Record<string, TableSettings> = {
  "class-incremental": {
    scenario: "class-incremental", dataset: "fashion-mnist", memorySizes: "200,500,2000", seeds: "0,1,2", epochs: "5",
    about: "Split Fashion-MNIST: 5 updates of 2 new classes each, one output layer for all 10 classes.",
  },
  permuted: {
    scenario: "permuted", dataset: "fashion-mnist", memorySizes: "200,500,2000", seeds: "0,1,2", epochs: "5",
    trainPerTask: "12000", testPerTask: "2000",
    about: "Each update is all 10 classes under its own random pixel permutation, 12,000 training and 2,000 test images.",
  },
  "task-incremental": {
    scenario: "task-incremental", dataset: "fashion-mnist", memorySizes: "500", seeds: "0,1,2", epochs: "5",
    about: "Split Fashion-MNIST with a head per task (multi-head MLP 784-256-256-(10 per head)); each task answered by its own head.",
  },
};

const args = benchArgs(import.meta.url, {
    table: { type: "string" },
    jobs: { type: "string", default: "2" },
    updaters: { type: "string", default: "all" },
    "memory-sizes": { type: "string" },
    seeds: { type: "string" },
    epochs: { type: "string" },
    scenario: { type: "string" },
    dataset: { type: "string" },
    out: { type: "string", default: "results/quality" },
    "no-docs": { type: "boolean", default: false },
    "no-run": { type: "boolean", default: false },
    "train-per-task": { type: "string" },
    "test-per-task": { type: "string" },
});

const updaters = args.updaters === "all" ? [...UPDATER_NAMES] : args.updaters!.split(",");
for (const name of updaters) updaterEntry(name); // an unknown name fails now, listing the known ones

/** Updaters that cannot run a scenario at all (iCaRL refuses multi-head models): no shards, and the table says why. */
function notApplicable(scenario: string): string[] {
  return scenario === "task-incremental" ? UPDATER_NAMES.filter((u) => updaterEntry(u).singleHeadOnly === true) : [];
}
const threadsPerJob = Math.max(1, Math.min(4, Math.floor(availableParallelism() / Number(args.jobs))));

/** The preset (--table), with any flag given overriding it. */
function settingsFor(preset: TableSettings | undefined): TableSettings {
  const base: TableSettings = preset ?? {
    scenario: "class-incremental", dataset: "fashion-mnist", memorySizes: "200,500,2000", seeds: "0,1,2", epochs: "5", about: "",
  };
  return {
    ...base,
    scenario: args.scenario ?? base.scenario,
    dataset: args.dataset ?? base.dataset,
    memorySizes: args["memory-sizes"] ?? base.memorySizes,
    seeds: args.seeds ?? base.seeds,
    epochs: args.epochs ?? base.epochs,
    trainPerTask: args["train-per-task"] ?? base.trainPerTask,
    testPerTask: args["test-per-task"] ?? base.testPerTask,
  };
}

/**
 * Flags some updaters cannot run without on an MLP: POD-ER and Super-ER distil the two hidden layers' outputs, pooled
 * per unit ("pixel"; Renate's default "spatial" needs feature maps).
 */
const UPDATER_FLAGS: Readonly<Record<string, readonly string[]>> = {
  "pod-er": ["--pod-layers", "dense_0_relu,dense_1_relu", "--pod-distillation", "pixel"],
  "super-er": ["--pod-layers", "dense_0_relu,dense_1_relu", "--pod-distillation", "pixel"],
};

interface Shard {
  name: string;
  flags: string[];
}

function shardsOf(t: TableSettings, root: string, names: readonly string[]): Shard[] {
  const shards: Shard[] = [];
  for (const updater of names) {
    const sizes = updaterEntry(updater).usesMemory ? t.memorySizes.split(",") : [null];
    for (const size of sizes) {
      const name = size === null ? updater : `${updater}-m${size}`;
      shards.push({
        name,
        flags: [
          "benchmark", "--dataset", t.dataset, "--scenario", t.scenario, "--tasks", "5", "--updaters", updater,
          ...(size === null ? [] : ["--memory-sizes", size]),
          "--seeds", t.seeds, "--epochs", t.epochs, "--batch-size", "32", "--lr", "1e-3", "--model", "mlp:256,256",
          "--out", join(root, name), "--no-png",
          ...(UPDATER_FLAGS[updater] ?? []),
          ...(t.trainPerTask ? ["--train-per-task", t.trainPerTask] : []),
          ...(t.testPerTask ? ["--test-per-task", t.testPerTask] : []),
        ],
      });
    }
  }
  return shards;
}

async function runShard(root: string, shard: Shard): Promise<void> {
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

/** The issue's quality bars, for class-incremental Split Fashion-MNIST only. */
function qualityBars(summary: BenchmarkSummary): string[] {
  const finalAccuracy = (updater: string, memory: number | null) =>
    summary.groups.find((g) => g.updater === updater && g.memorySize === memory)?.finalAverageAccuracy.mean;
  const ft = finalAccuracy("fine-tuning", null);
  const checks: [string, number | undefined, (v: number) => boolean][] = [
    ["fine-tuning <= 0.25", ft, (v) => v <= 0.25],
    ["joint >= 0.80", finalAccuracy("joint", null), (v) => v >= 0.8],
    ["RD (m=500) >= 0.45", finalAccuracy("rd", 500), (v) => v >= 0.45],
    ...(["er", "der++", "gdumb"] as const).map(
      (u) => [`${u} (m=500) clearly above fine-tuning (+0.10)`, finalAccuracy(u, 500), (v: number) => ft !== undefined && v >= ft + 0.1] as [string, number | undefined, (v: number) => boolean],
    ),
  ];
  return checks.map(([name, value, ok]) => {
    const verdict = value === undefined || ft === undefined ? "not measured" : ok(value) ? "PASS" : "FAIL";
    return `- ${verdict}: ${name} (measured ${value?.toFixed(3) ?? "-"})`;
  });
}

/**
 * The command that remakes a table: the preset name alone when nothing overrides it. Never --updaters: a table holds
 * the rows of every updater measured with its settings, and without --updaters the command measures them all.
 */
function commandFor(table: string | undefined, t: TableSettings): string {
  const preset = table === undefined ? undefined : TABLES[table];
  const differs = (flag: string, value: string | undefined, presetValue: string | undefined) =>
    value !== undefined && value !== presetValue ? ` --${flag} ${value}` : "";
  return (
    `npx tsx bench/quality_bars.ts${table === undefined ? "" : ` --table ${table}`}` +
    differs("scenario", t.scenario, preset?.scenario) +
    differs("memory-sizes", t.memorySizes, preset?.memorySizes) +
    differs("seeds", t.seeds, preset?.seeds) +
    differs("epochs", t.epochs, preset?.epochs) +
    differs("train-per-task", t.trainPerTask, preset?.trainPerTask) +
    differs("test-per-task", t.testPerTask, preset?.testPerTask)
  );
}

async function runTable(table: string | undefined): Promise<void> {
  const t = settingsFor(table === undefined ? undefined : TABLES[table]);
  const root = join(args.out!, t.scenario);
  const skipped = notApplicable(t.scenario);
  for (const u of updaters.filter((u) => skipped.includes(u))) console.log(`${u}: skipped, it cannot run ${t.scenario} (single-head only)`);
  const shards = shardsOf(t, root, updaters.filter((u) => !skipped.includes(u)));
  console.log(`${t.scenario}: ${shards.length} shards (${updaters.length} updaters; memory ${t.memorySizes}; seeds ${t.seeds})`);
  const queue = args["no-run"] ? [] : [...shards];
  await Promise.all(
    Array.from({ length: Number(args.jobs) }, async () => {
      for (let shard = queue.shift(); shard; shard = queue.shift()) await runShard(root, shard);
    }),
  );

  // Merge the runs of every shard measured so far with these settings (this run's and earlier runs', every updater's),
  // so tables fill up across runs of a few updaters each; the table says which updaters have no rows yet.
  const measured = shardsOf(t, root, UPDATER_NAMES).filter((shard) => existsSync(join(root, shard.name, "summary.json")));
  const missing = UPDATER_NAMES.filter((u) => !skipped.includes(u) && !measured.some((shard) => shard.flags[shard.flags.indexOf("--updaters") + 1] === u));
  if (measured.length === 0) {
    console.log(`${t.scenario}: no shard measured yet under ${root}/, table left as it is`);
    return;
  }
  let merged: BenchmarkResults | undefined;
  for (const shard of measured) {
    const file = JSON.parse(await readFile(join(root, shard.name, "summary.json"), "utf8")) as { summary: Omit<BenchmarkResults, "runs">; runs: RunResult[] };
    merged ??= { ...file.summary, runs: [] } as BenchmarkResults;
    merged.runs.push(...file.runs);
  }
  const summary = summarizeResults(merged!);
  const markdown = summaryToMarkdown(summary);
  console.log(`\n${markdown}`);
  const barLines = t.scenario === "class-incremental" ? qualityBars(summary) : [];
  console.log(barLines.join("\n"));
  if (args["no-docs"]) return;

  const section = [
    `## ${summary.dataset}, ${summary.scenario} ${summary.tasks} tasks`,
    "",
    ...(t.about ? [t.about] : []),
    `MLP 784-256-256-10, Adam lr 1e-3, batch 32, ${summary.epochs} epochs per phase, seeds ${t.seeds}, backend ${summary.backend}.`,
    `Made with \`${commandFor(table, t)}\`${missing.length === 0 ? "" : ` (rows of every updater measured so far with these settings, under ${root}/; not yet measured: ${missing.join(", ")})`}.${skipped.length === 0 ? "" : ` Not applicable: ${skipped.join(", ")} (single-head only).`}`,
    "Values are mean +/- std over seeds after the last update; time is the total wall time of all updates of one run, in seconds.",
    "",
    markdown,
    "",
    ...(barLines.length > 0 ? ["Quality bars:", "", ...barLines] : []),
    "",
  ].join("\n");
  const docs = "docs/results.md";
  const marker = `<!-- ${t.dataset} ${t.scenario} -->`;
  const existing = existsSync(docs) ? await readFile(docs, "utf8") : "# Benchmark results\n\nWhat to expect from each updater, measured on this project's reference machine (2 cores, wasm backend).\n\n";
  const start = existing.indexOf(marker);
  const end = start < 0 ? -1 : existing.indexOf("<!-- end -->", start);
  const block = `${marker}\n${section}<!-- end -->\n`;
  const next = start < 0 ? `${existing}\n${block}` : existing.slice(0, start) + block + existing.slice(end + "<!-- end -->\n".length);
  await writeFile(docs, next);
  console.log(`\nwrote ${docs}`);
}

if (args.table !== undefined && args.table !== "all" && !(args.table in TABLES)) {
  throw new Error(`unknown --table ${args.table}; known: all, ${Object.keys(TABLES).join(", ")}`);
}
for (const table of args.table === "all" ? Object.keys(TABLES) : [args.table]) await runTable(table);
