import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { accuracyCsv, accuracyCsvNames, appendJsonl, writeResultsFolder } from "../../src/reporting/files.js";
import { fileSlug } from "../../src/reporting/results.js";
import { checkUpdaterNames } from "../../src/benchmark/updater_variant.js";
import { UPDATER_NAMES } from "../../src/updaters/registry.js";
import type { MetricsLine, WrittenResults } from "../../src/reporting/files.js";
import { fakeResults } from "./fake_results.js";

let dir: string;
let written: WrittenResults;

const CSV_NAMES = ["accuracy-replay-m100-s1.csv", "accuracy-replay-m100-s2.csv", "accuracy-fine-tuning-mnone-s7.csv"];
const CHART_NAMES = [
  "heatmap-replay-m100",
  "per-task-replay-m100",
  "heatmap-fine-tuning",
  "per-task-fine-tuning",
  "average-accuracy",
  "forgetting",
];

// One folder for the whole file: rendering charts is the slow part (about a second).
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relearn-reporting-"));
  written = await writeResultsFolder(join(dir, "results"), fakeResults());
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function parseCsv(text: string): { header: string[]; rows: number[][] } {
  const [header, ...rows] = text.trimEnd().split("\n");
  return { header: header!.split(","), rows: rows.map((row) => row.split(",").map(Number)) };
}

test("the folder holds every promised file and nothing else", async () => {
  const root = join(dir, "results");
  const expected = [
    "summary.json",
    ...CSV_NAMES,
    "metrics.jsonl",
    ...CHART_NAMES.flatMap((name) => [`charts/${name}.svg`, `charts/${name}.png`]),
    "report.html",
  ];
  assert.deepEqual([...written.files].sort(), [...expected].sort());
  const onDisk = [
    ...(await readdir(root)).filter((f) => f !== "charts"),
    ...(await readdir(join(root, "charts"))).map((f) => `charts/${f}`),
  ];
  assert.deepEqual(onDisk.sort(), [...expected].sort());
});

test("each CSV parses back to its run's accuracy matrix", async () => {
  const runs = fakeResults().runs;
  for (const [index, name] of CSV_NAMES.entries()) {
    const csv = parseCsv(await readFile(join(dir, "results", name), "utf8"));
    assert.deepEqual(csv.header, ["task_0", "task_1"], name);
    assert.deepEqual(csv.rows, runs[index]!.accuracyMatrix, name);
  }
});

test("accuracyCsv round-trips any matrix exactly", () => {
  const matrix = fc.integer({ min: 1, max: 6 }).chain((tasks) =>
    fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: tasks, maxLength: tasks }), {
      minLength: tasks,
      maxLength: tasks,
    }),
  );
  fc.assert(
    fc.property(matrix, (m) => {
      const csv = parseCsv(accuracyCsv(m));
      assert.equal(csv.header.length, m.length);
      // -0 prints as "0": compare as numbers, not by identity.
      assert.ok(csv.rows.every((row, t) => row.every((v, i) => v === m[t]![i])));
    }),
    { numRuns: 100 },
  );
});

test("metrics.jsonl has one parsable line per run and update with the right values", async () => {
  const text = await readFile(join(dir, "results", "metrics.jsonl"), "utf8");
  const lines = text.trimEnd().split("\n").map((line) => JSON.parse(line) as MetricsLine);
  assert.equal(lines.length, 3 * 2);
  const replay1 = lines.filter((l) => l.updater === "replay" && l.seed === 1);
  assert.deepEqual(replay1.map((l) => l.update), [1, 2]);
  assert.equal(replay1[0]!.nfr, null, "no previous model at update 1");
  assert.equal(replay1[1]!.nfr, 0.05);
  assert.equal(replay1[1]!.memorySize, 100);
  assert.ok(Math.abs(replay1[1]!.averageAccuracy - 0.75) < 1e-12);
  assert.ok(Math.abs(replay1[1]!.forgetting - 0.2) < 1e-12);
  assert.ok(Math.abs(replay1[1]!.bwt + 0.2) < 1e-12);
  assert.ok(Math.abs(replay1[1]!.fwt! + 0.1) < 1e-12);
  assert.equal(replay1[1]!.seconds, 2);
  const replay2 = lines.find((l) => l.seed === 2 && l.update === 2)!;
  assert.equal(replay2.nfr, 0.15, "a length-T flip-rate list drops its first entry");
  const fineTuning = lines.find((l) => l.updater === "fine-tuning" && l.update === 2)!;
  assert.equal(fineTuning.memorySize, null);
  assert.equal(fineTuning.fwt, null);
});

test("summary.json holds the summary and the raw runs", async () => {
  const json = JSON.parse(await readFile(join(dir, "results", "summary.json"), "utf8")) as {
    summary: { dataset: string; groups: { label: string; finalAverageAccuracy: { mean: number } }[] };
    runs: { seed: number; negativeFlipRates: (number | null)[] }[];
  };
  assert.equal(json.summary.dataset, "fake-mnist");
  assert.deepEqual(json.summary.groups.map((g) => g.label), ["replay (m=100)", "fine-tuning"]);
  assert.ok(Math.abs(json.summary.groups[0]!.finalAverageAccuracy.mean - 0.725) < 1e-12);
  assert.deepEqual(json.runs.map((r) => r.seed), [1, 2, 7]);
  assert.deepEqual(json.runs[1]!.negativeFlipRates, [null, 0.15], "NaN is written as null");
});

test("each SVG is one <svg> document naming what it shows; each PNG is a PNG", async () => {
  const charts = join(dir, "results", "charts");
  for (const name of CHART_NAMES) {
    const svg = await readFile(join(charts, `${name}.svg`), "utf8");
    assert.ok(svg.startsWith("<svg"), `${name}.svg starts with <svg`);
    assert.equal(svg.split("<svg").length - 1, 1, `${name}.svg has one <svg`);
    const png = await readFile(join(charts, `${name}.png`));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}.png magic`);
  }
  const average = await readFile(join(charts, "average-accuracy.svg"), "utf8");
  assert.ok(average.includes("replay (m=100)") && average.includes("fine-tuning"), "legend names both updaters");
  const heatmap = await readFile(join(charts, "heatmap-replay-m100.svg"), "utf8");
  // Mean matrix over seeds 1 and 2: [[0.85, 0.2], [0.65, 0.8]], printed in the trained cells; task 1 after
  // update 1 (0.2) is not trained yet and stays blank.
  for (const cell of ["0.85", "0.65", "0.80"]) assert.ok(heatmap.includes(`>${cell}<`), `heatmap cell ${cell}`);
  assert.ok(!heatmap.includes(">0.20<"), "the untrained cell is blank");
});

test("report.html is self-contained and names every updater", async () => {
  const html = await readFile(join(dir, "results", "report.html"), "utf8");
  assert.ok(html.startsWith("<!doctype html>"));
  for (const name of ["replay", "fine-tuning"]) assert.ok(html.includes(`<td>${name}</td>`), `table row for ${name}`);
  assert.equal(html.split("<svg").length - 1, CHART_NAMES.length, "every chart inline");
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, "no remote resources");
  assert.doesNotMatch(html, /@import|url\(\s*["']?https?:/i, "no remote CSS");
  for (const file of [...CSV_NAMES, "charts/forgetting.png", "metrics.jsonl"]) {
    assert.ok(html.includes(`href="${file}"`), `links ${file}`);
  }
  assert.match(html, /0\.725 ± 0\.035/);
  assert.match(html, /consolidation/, "phase times are listed");
});

test("without charts the folder still has the data files and a report", async () => {
  const { files } = await writeResultsFolder(join(dir, "no-charts"), fakeResults(), { charts: false });
  assert.deepEqual(files, ["summary.json", ...CSV_NAMES, "metrics.jsonl", "report.html"]);
  const html = await readFile(join(dir, "no-charts", "report.html"), "utf8");
  assert.ok(!html.includes("<svg") && !html.includes("charts/"));
});

test("appendJsonl creates the folder and appends one line per call", async () => {
  const path = join(dir, "deep", "log", "steps.jsonl");
  await appendJsonl(path, { step: 1, loss: 0.5 });
  await appendJsonl(path, { step: 2, loss: Number.NaN });
  const lines = (await readFile(path, "utf8")).split("\n");
  assert.deepEqual(lines, ['{"step":1,"loss":0.5}', '{"step":2,"loss":null}', ""]);
  await assert.rejects(appendJsonl(path, undefined), TypeError);
});

test("writing over an earlier results folder removes that run's files this one does not rewrite, and keeps the user's", async () => {
  const folder = join(dir, "rerun");
  await writeResultsFolder(folder, fakeResults(), { charts: false });
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(folder, "notes.txt"), "mine\n");
  const one = fakeResults();
  one.runs = one.runs.filter((r) => r.updater === "fine-tuning");
  const again = await writeResultsFolder(folder, one, { charts: false });
  assert.deepEqual(again.removed, ["accuracy-replay-m100-s1.csv", "accuracy-replay-m100-s2.csv"]);
  assert.deepEqual((await readdir(folder)).sort(), ["accuracy-fine-tuning-mnone-s7.csv", "metrics.jsonl", "notes.txt", "report.html", "summary.json"]);
  const fresh = await writeResultsFolder(join(dir, "fresh"), one, { charts: false });
  assert.deepEqual(fresh.removed, []);
});

test("every name --updaters accepts (updater, or variant <updater>@<label>) is its own file slug, so distinct runs get distinct, unsuffixed file names", () => {
  const labelChar = fc.constantFrom(..."abcXYZ019._=+-");
  fc.assert(
    fc.property(fc.constantFrom(...UPDATER_NAMES), fc.array(labelChar, { minLength: 1, maxLength: 8 }), (updater, label) => {
      const name = `${updater}@${label.join("")}`;
      checkUpdaterNames([updater, name], () => true); // accepted by the grid
      assert.equal(fileSlug(updater), updater);
      assert.equal(fileSlug(name), name);
    }),
  );
  // Tester G's F18: these two used to share the slug er_a_b, the second file suffixed -2.
  const run = fakeResults().runs[0]!;
  const names = accuracyCsvNames([{ ...run, updater: "er@a=b" }, { ...run, updater: "er@a+b" }, { ...run, updater: "der++" }]);
  assert.deepEqual(names, ["accuracy-er@a=b-m100-s1.csv", "accuracy-er@a+b-m100-s1.csv", "accuracy-der++-m100-s1.csv"]);
  // Characters outside the safe set still become "_" (a path separator never reaches a file name).
  assert.equal(fileSlug("a/b\\c d"), "a_b_c_d");
});
