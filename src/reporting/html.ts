/**
 * A self-contained HTML report: inline SVG charts, inline CSS, no scripts and
 * no external fonts, so it opens offline and can be mailed as one file (the
 * links to PNGs and data files are relative and work beside the results folder).
 */
import type { RenderedChart } from "./charts.js";
import { comparisonNotes, comparisonTable, formatMeanStd } from "./summary.js";
import type { BenchmarkSummary } from "./summary.js";

/** Relative links the report shows next to its charts and at its end. */
export interface ReportLinks {
  /** Folder of the chart files, relative to the report (e.g. "charts"); omit for no chart links. */
  chartsFolder?: string;
  /** Whether PNG copies of the charts exist in that folder. */
  pngs?: boolean;
  /** Data files to list (summary.json, metrics.jsonl, CSVs), relative to the report. */
  dataFiles?: readonly string[];
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1280px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #e4e4e4; text-align: left; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
figure { display: inline-block; margin: 0.5rem 1rem 1.5rem 0; vertical-align: top; }
figcaption { font-size: 0.85rem; color: #555; }
.scroll { overflow-x: auto; }
.note { font-size: 0.85rem; color: #555; }
`;

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** The whole report as one HTML document. */
export function renderReportHtml(
  summary: BenchmarkSummary,
  charts: readonly RenderedChart[],
  links: ReportLinks = {},
): string {
  const title = `Benchmark: ${summary.dataset}, ${summary.scenario}`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    `<h1>${escapeHtml(title)}</h1>`,
    settingsSection(summary),
    comparisonSection(summary),
    phaseSection(summary),
    chartsSection(charts, links),
    filesSection(links),
    "</body>",
    "</html>",
    "",
  ]
    .filter((part) => part !== "")
    .join("\n")
    .concat("\n");
}

function settingsSection(summary: BenchmarkSummary): string {
  const runs = summary.groups.reduce((sum, g) => sum + g.seeds.length, 0);
  const rows: [string, string][] = [
    ["dataset", summary.dataset],
    ["scenario", summary.scenario],
    ["tasks", String(summary.tasks)],
    ["backend", summary.backend],
    ["epochs", String(summary.epochs)],
    ["batch size", String(summary.batchSize)],
    ["runs", `${runs} (${summary.groups.length} updater/memory settings)`],
    ...(summary.optimizer === undefined ? [] : [["optimizer", JSON.stringify(summary.optimizer)] as [string, string]]),
  ];
  const body = rows.map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`);
  const model = JSON.stringify(summary.model, null, 2) ?? "(none)";
  return [
    "<h2>Settings</h2>",
    `<table>${body.join("")}</table>`,
    "<details><summary>model</summary>",
    `<pre>${escapeHtml(model)}</pre>`,
    "</details>",
    updaterOptionsTable(summary),
  ].join("\n");
}

// A variant (er@lr-high) differs from its base only by these options, so the report shows them, open.
function updaterOptionsTable(summary: BenchmarkSummary): string {
  const seen = new Map<string, Record<string, unknown>>();
  for (const group of summary.groups) if (group.updaterOptions !== undefined) seen.set(group.updater, group.updaterOptions);
  if (seen.size === 0) return "";
  const rows = [...seen].map(([updater, options]) => `<tr><th>${escapeHtml(updater)}</th><td><code>${escapeHtml(JSON.stringify(options))}</code></td></tr>`);
  return ["<h3>Updater options</h3>", `<table>${rows.join("")}</table>`].join("\n");
}

function comparisonSection(summary: BenchmarkSummary): string {
  const table = comparisonTable(summary, "±");
  const cls = (c: number): string => (table.numeric[c] ? ' class="num"' : "");
  const head = table.headers.map((h, c) => `<th${cls(c)}>${escapeHtml(h)}</th>`).join("");
  const body = table.rows
    .map((row) => `<tr>${row.map((cell, c) => `<td${cls(c)}>${escapeHtml(cell)}</td>`).join("")}</tr>`)
    .join("\n");
  return [
    "<h2>Comparison</h2>",
    `<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`,
    ...comparisonNotes(summary, "±").map((note) => `<p class="note">${escapeHtml(note)}</p>`),
    '<p class="note">avg acc: mean accuracy over ' +
      "all tasks; micro acc: weighted by test-set size; BWT/FWT: backward/forward transfer; NFR: negative " +
      "flip rate between consecutive models, averaged over updates; time: total update seconds.</p>",
  ].join("\n");
}

function phaseSection(summary: BenchmarkSummary): string {
  const groups = summary.groups.filter((g) => g.phaseSeconds !== undefined);
  if (groups.length === 0) return "";
  const phases = [...new Set(groups.flatMap((g) => Object.keys(g.phaseSeconds!)))];
  const head = ["updater", ...phases].map((h, c) => `<th${c > 0 ? ' class="num"' : ""}>${escapeHtml(h)}</th>`);
  const rows = groups.map((g) => {
    const cells = phases.map((p) => `<td class="num">${escapeHtml(formatMeanStd(g.phaseSeconds![p], "±", g.seeds.length))}</td>`);
    return `<tr><td>${escapeHtml(g.label)}</td>${cells.join("")}</tr>`;
  });
  return ["<h2>Time per phase (s, total over updates)</h2>", `<table><tr>${head.join("")}</tr>${rows.join("")}</table>`].join(
    "\n",
  );
}

function chartsSection(charts: readonly RenderedChart[], links: ReportLinks): string {
  if (charts.length === 0) return "";
  const figures = charts.map((chart) => {
    const files: string[] = [];
    if (links.chartsFolder !== undefined) {
      const base = `${links.chartsFolder}/${chart.name}`;
      files.push(`<a href="${escapeHtml(base)}.svg">SVG</a>`);
      if (links.pngs === true) files.push(`<a href="${escapeHtml(base)}.png">PNG</a>`);
    }
    const caption = [escapeHtml(chart.title), ...files].join(" · ");
    return `<figure>\n${stripXmlProlog(chart.svg)}\n<figcaption>${caption}</figcaption>\n</figure>`;
  });
  return ["<h2>Charts</h2>", ...figures].join("\n");
}

function filesSection(links: ReportLinks): string {
  const files = links.dataFiles ?? [];
  if (files.length === 0) return "";
  const items = files.map((file) => `<li><a href="${escapeHtml(file)}">${escapeHtml(file)}</a></li>`);
  return ["<h2>Files</h2>", `<ul>${items.join("\n")}</ul>`].join("\n");
}

// An XML declaration is not allowed inside an HTML document.
function stripXmlProlog(svg: string): string {
  return svg.replace(/^\s*<\?xml[^>]*\?>\s*/, "");
}
