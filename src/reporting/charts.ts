/**
 * Charts of a benchmark summary: vega-lite specs compiled to Vega, rendered
 * headless (renderer "none") to SVG, and to PNG by sharp. No canvas and no
 * network: the SVG carries its text as <text>, which only the PNG rasteriser
 * needs fonts for (it uses the system's sans-serif through fontconfig).
 */
import sharp from "sharp";
import { View, parse, logger as vegaLogger, None as LOG_NONE } from "vega";
import { compile } from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { fileSlug } from "./results.js";
import type { BenchmarkSummary, GroupSummary } from "./summary.js";

/** A chart to render: `name` is its file base name, unique within a summary. */
export interface ChartSpec {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** A rendered chart. */
export interface RenderedChart {
  name: string;
  title: string;
  svg: string;
}

// The library is silent by default; a bad spec still throws from compile/toSVG.
const silent = vegaLogger(LOG_NONE);

/**
 * The charts of a summary, in report order: per group an accuracy-matrix
 * heatmap and per-task accuracy lines, then average accuracy and forgetting
 * over updates with one line per group (and a mean +/- std band over seeds).
 */
export function chartSpecs(summary: BenchmarkSummary): ChartSpec[] {
  const slugs = uniqueSlugs(summary.groups);
  const perGroup = summary.groups.flatMap((group, g) => [
    { name: `heatmap-${slugs[g]!}`, title: `Accuracy matrix: ${group.label}`, spec: heatmapSpec(group) },
    { name: `per-task-${slugs[g]!}`, title: `Accuracy per task: ${group.label}`, spec: perTaskSpec(group) },
  ]);
  return [
    ...perGroup,
    {
      name: "average-accuracy",
      title: "Average accuracy over updates",
      spec: comparisonSpec(summary, "Average accuracy over updates", "average accuracy", (g) => [g.perUpdate.averageAccuracy, g.perUpdateStd.averageAccuracy], [0, 1]),
    },
    {
      name: "forgetting",
      title: "Forgetting over updates",
      spec: comparisonSpec(summary, "Forgetting over updates", "forgetting", (g) => [g.perUpdate.forgetting, g.perUpdateStd.forgetting]),
    },
  ];
}

/** Compiles a vega-lite spec and renders it to an SVG document string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vegaSpec = compile(spec, { logger: silent }).spec;
  const view = new View(parse(vegaSpec), { renderer: "none", logLevel: LOG_NONE });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG at `scale` times its size (density 72 * scale). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 72 * scale }).png().toBuffer();
}

/** Renders every chart of {@link chartSpecs} to SVG. */
export async function renderCharts(summary: BenchmarkSummary): Promise<RenderedChart[]> {
  const charts: RenderedChart[] = [];
  for (const chart of chartSpecs(summary)) {
    charts.push({ name: chart.name, title: chart.title, svg: await renderSvg(chart.spec) });
  }
  return charts;
}

function heatmapSpec(group: GroupSummary): TopLevelSpec {
  const tasks = group.accuracyMatrix.length;
  const names = group.taskNames;
  // Cells big enough for "0.93"; large matrices shrink to stay on a page.
  const cell = Math.max(26, Math.min(48, Math.floor(560 / tasks)));
  const values = matrixValues(group);
  return {
    title: { text: `Accuracy matrix: ${group.label}`, subtitle: "blank: task not trained yet" },
    data: { values },
    width: cell * tasks,
    height: cell * tasks,
    encoding: {
      // Every task and update keeps its row and column although the blank triangle has no data.
      x: {
        field: "taskName",
        type: "ordinal",
        title: "evaluated on task",
        scale: { domain: names },
        axis: { labelAngle: names.some((name) => name.length > 3) ? -40 : 0, labelLimit: 200 },
      },
      y: { field: "update", type: "ordinal", title: "after update", scale: { domain: names.map((_, t) => t + 1) } },
    },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: {
            field: "accuracy",
            type: "quantitative",
            title: "accuracy",
            scale: { domain: [0, 1], scheme: "viridis" },
          },
        },
      },
      {
        mark: { type: "text", fontSize: cell >= 36 ? 11 : 9 },
        encoding: {
          text: { field: "accuracy", type: "quantitative", format: ".2f" },
          // viridis is dark below the middle: white text there, black above.
          color: { condition: { test: "datum.accuracy < 0.5", value: "white" }, value: "black" },
        },
      },
    ],
  };
}

function perTaskSpec(group: GroupSummary): TopLevelSpec {
  const tasks = group.accuracyMatrix.length;
  const values = matrixValues(group);
  return {
    title: { text: `Accuracy per task: ${group.label}`, subtitle: "each line starts at the update that trains its task" },
    data: { values },
    width: 420,
    height: 260,
    mark: { type: "line", point: true },
    encoding: {
      x: updateAxis(),
      y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
      color: {
        field: "taskName",
        type: "nominal",
        title: "task",
        sort: group.taskNames,
        legend: { labelLimit: 320 },
        scale: { scheme: tasks > 10 ? "category20" : "category10" },
      },
    },
  };
}

/**
 * One line per group over updates, with a band of mean +/- one standard
 * deviation over seeds where a group has several seeds (clipped to
 * `domain`).
 */
function comparisonSpec(
  summary: BenchmarkSummary,
  title: string,
  yTitle: string,
  pick: (group: GroupSummary) => readonly [readonly number[], readonly number[]],
  domain?: [number, number],
): TopLevelSpec {
  const clip = (v: number): number => (domain ? Math.min(domain[1], Math.max(domain[0], v)) : v);
  const values = summary.groups.flatMap((group) => {
    const [means, stds] = pick(group);
    return means.map((value, t) => {
      const std = stds[t] ?? 0;
      return { update: t + 1, group: group.label, value, low: clip(value - std), high: clip(value + std) };
    });
  });
  const color = {
    field: "group",
    type: "nominal",
    title: "updater",
    sort: summary.groups.map((g) => g.label),
    // Vega truncates legend labels at 160 px, which hides the memory size of long updater names.
    // Line symbols at full opacity: the legend would otherwise take the bands' pale fill.
    legend: { labelLimit: 480, symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 2.5 },
    scale: { scheme: summary.groups.length > 10 ? "category20" : "category10" },
  } as const;
  const line = {
    mark: { type: "line", point: true },
    encoding: { y: { field: "value", type: "quantitative", title: yTitle, ...(domain ? { scale: { domain } } : {}) } },
  } as const;
  const band = { mark: { type: "area", opacity: 0.18 }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } } } as const;
  const hasBands = values.some((v) => v.high > v.low);
  return {
    title,
    data: { values },
    width: 420,
    height: 260,
    encoding: { x: updateAxis(), color },
    layer: hasBands ? [band, line] : [line],
  };
}

/**
 * The trained cells of the accuracy matrix as chart rows. Update t + 1 (row t) trains task t, so row t keeps
 * tasks 0..t: a task not trained yet is not "accuracy 0" (in a class-incremental run the model cannot know its
 * classes), and drawing it so would make it look forgotten. Updates are numbered from 1, as every summary
 * prints them; tasks keep their 0-based ids, named by `taskNames`.
 */
function matrixValues(group: GroupSummary): { update: number; task: number; taskName: string; accuracy: number }[] {
  return group.accuracyMatrix.flatMap((row, t) =>
    row.slice(0, t + 1).map((accuracy, task) => ({ update: t + 1, task, taskName: group.taskNames[task] ?? String(task), accuracy })),
  );
}

function updateAxis() {
  return {
    field: "update",
    type: "quantitative",
    title: "update",
    axis: { tickMinStep: 1, format: "d" },
  } as const;
}

function uniqueSlugs(groups: readonly GroupSummary[]): string[] {
  const used = new Set<string>();
  return groups.map((group) => {
    const base = fileSlug(group.updater) + (group.memorySize === null ? "" : `-m${group.memorySize}`);
    let slug = base;
    for (let n = 2; used.has(slug); n++) slug = `${base}-${n}`;
    used.add(slug);
    return slug;
  });
}
