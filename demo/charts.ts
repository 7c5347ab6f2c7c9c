/**
 * The demo's two charts as inline SVG strings: an accuracy matrix (updates x
 * tasks heat map) and accuracy lines over updates. Hand-drawn on purpose: a
 * few hundred bytes each, where a charting library would weigh more than the
 * rest of the page.
 */

/** One colour per task, also used by the task cards. */
// None is a method colour (RD blue #2a7de1, fine-tuning orange #e0663b): a task line must not read as a method.
export const TASK_COLOURS = ["#0f8b8d", "#8e44ad", "#c9a227", "#d63384", "#5c6b7a"];

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const percent = (value: number) => `${Math.round(value * 100)}%`;

/** White to deep blue-green; dark cells get white text. */
function heat(value: number): string {
  const t = Math.max(0, Math.min(1, value));
  const from = [244, 246, 250];
  const to = [14, 116, 144];
  const mix = from.map((f, i) => Math.round(f + (to[i]! - f) * t));
  return `rgb(${mix.join(",")})`;
}

/**
 * The accuracy matrix: row i is "after update i+1" (null: not run yet),
 * column j is task j+1. Cells of tasks not taught yet (j > i) are drawn
 * empty. Every drawn cell carries data-row, data-col and data-accuracy.
 */
export function accuracyMatrixSvg(rows: readonly (readonly number[] | null)[], tasks: number): string {
  const cell = 38;
  const left = 64;
  const top = 34;
  const width = left + tasks * cell;
  const height = top + tasks * cell + 4;
  const parts: string[] = [];
  for (let j = 0; j < tasks; j++) {
    parts.push(`<text x="${left + j * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${j + 1}</text>`);
  }
  parts.push(`<text x="${left + (tasks * cell) / 2}" y="10" text-anchor="middle">test accuracy on task</text>`);
  for (let i = 0; i < tasks; i++) {
    const y = top + i * cell;
    parts.push(`<text x="${left - 8}" y="${y + cell / 2 + 4}" text-anchor="end">after ${i + 1}</text>`);
    const row = rows[i] ?? null;
    for (let j = 0; j < tasks; j++) {
      const x = left + j * cell;
      const value = row?.[j];
      if (row === null || value === undefined || j > i) {
        parts.push(`<rect x="${x + 1}" y="${y + 1}" width="${cell - 2}" height="${cell - 2}" rx="4" fill="none" stroke="#e3e6ee" stroke-dasharray="3 3"/>`);
        continue;
      }
      const dark = value > 0.55;
      parts.push(
        `<g><title>after update ${i + 1}: ${percent(value)} on task ${j + 1}</title>` +
          `<rect data-row="${i}" data-col="${j}" data-accuracy="${value.toFixed(4)}" x="${x + 1}" y="${y + 1}" width="${cell - 2}" height="${cell - 2}" rx="4" fill="${heat(value)}"/>` +
          `<text class="cell-label" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" style="fill:${dark ? "#fff" : "#1d2433"}">${Math.round(value * 100)}</text></g>`,
      );
    }
  }
  return `<svg class="matrix" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="accuracy matrix, percent">${parts.join("")}</svg>`;
}

/** One line of a line chart: values by update (null: no point), a colour, a name for the tooltip. */
export interface Series {
  name: string;
  colour: string;
  values: readonly (number | null)[];
  dashed?: boolean;
  width?: number;
}

/** Accuracy (0-100%) against update number 1..`updates`. */
export function lineChartSvg(series: readonly Series[], updates: number, size = { width: 330, height: 190 }): string {
  const { width, height } = size;
  const left = 36;
  const right = 10;
  const top = 10;
  const bottom = 28;
  const x = (u: number) => left + (updates === 1 ? 0 : (u * (width - left - right)) / (updates - 1));
  const y = (v: number) => top + (1 - v) * (height - top - bottom);
  const parts: string[] = [];
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6ee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v * 100}%</text>`);
  }
  for (let u = 0; u < updates; u++) parts.push(`<text x="${x(u)}" y="${height - 8}" text-anchor="middle">${u + 1}</text>`);
  for (const s of series) {
    const points = s.values.map((v, u) => (v === null ? null : ([x(u), y(v)] as const)));
    let path = "";
    let pen = false;
    for (const p of points) {
      if (p === null) {
        pen = false;
        continue;
      }
      path += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = true;
    }
    const stroke = `stroke="${s.colour}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="5 4"' : ""}`;
    if (path) parts.push(`<path d="${path}" fill="none" ${stroke} stroke-linejoin="round"/>`);
    points.forEach((p, u) => {
      if (p === null) return;
      const value = s.values[u]!;
      parts.push(`<circle cx="${p[0]}" cy="${p[1]}" r="3" fill="${s.colour}"><title>${escape(s.name)}, after update ${u + 1}: ${percent(value)}</title></circle>`);
    });
  }
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="accuracy over updates">${parts.join("")}<text x="${width - right}" y="${height - 8}" text-anchor="end" style="display:none">update</text></svg>`;
}

/** A legend of coloured squares. */
export function legendHtml(entries: readonly { name: string; colour: string }[]): string {
  return `<div class="legend">${entries.map((e) => `<span><i style="background:${e.colour}"></i>${escape(e.name)}</span>`).join("")}</div>`;
}
