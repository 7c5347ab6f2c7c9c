/**
 * The trials table, as CSV: `relearn tune` writes it as trials.csv, and `relearn update --tune` keeps it in the
 * state as tuning/history.csv, one block of rows per tuned update, appended (Renate keeps hpo.csv the same way).
 *
 * Columns, one row per run (an ASHA setting promoted to a higher rung has one row per rung):
 *   update   the update the trials trained (the input state's updatesDone + 1)
 *   trial    the setting's number within that update, from 0
 *   rung     ASHA's rung (0 for random and grid search)
 *   epochs   the epochs the run trained (options.maxEpochs)
 *   status   ok | failed (training diverged)
 *   metric   val_accuracy | val_loss
 *   value    the metric (empty when failed)
 *   seconds  the run's wall time
 *   chosen   1 on the run whose setting (and state, with update --tune) was kept, else 0
 *   param:<option path>  one column per entry of the search space, e.g. param:optimizer.learningRate
 *   error    why a failed run failed
 * Blocks of different spaces share one header: a column a block does not have is empty in its rows.
 */
import { DataError } from "../errors.js";
import { formatParam, parseParam, type Params, type SearchSpace } from "./search_space.js";
import type { TrialOutcome } from "./trial.js";

export { TUNING_HISTORY_FILE } from "../state/format.js";
const FIXED = ["update", "trial", "rung", "epochs", "status", "metric", "value", "seconds", "chosen"] as const;
const PARAM_PREFIX = "param:";

/** One row of the table, cells as text. */
export type TrialRow = Record<string, string>;

/** Rows for the runs of one tuning run of update number `update`. */
export function trialRows(outcomes: readonly TrialOutcome[], update: number, chosen: TrialOutcome | undefined): TrialRow[] {
  return outcomes.map((o) => ({
    update: String(update),
    trial: String(o.trialId),
    rung: String(o.rung),
    epochs: String(o.epochs),
    status: o.status,
    metric: o.metric,
    value: o.value === null ? "" : String(o.value),
    seconds: o.seconds.toFixed(3),
    chosen: o === chosen ? "1" : "0",
    ...Object.fromEntries(Object.entries(o.params).map(([key, value]) => [PARAM_PREFIX + key, formatParam(value)])),
    ...(o.error === undefined ? {} : { error: o.error }),
  }));
}

function quote(cell: string): string {
  return /[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** The CSV text of `rows`: the fixed columns, the param columns in order of first appearance, error last. */
export function formatTrialsCsv(rows: readonly TrialRow[]): string {
  const params: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (key.startsWith(PARAM_PREFIX) && !params.includes(key)) params.push(key);
  const header = [...FIXED, ...params, "error"];
  return [header, ...rows.map((row) => header.map((column) => row[column] ?? ""))].map((cells) => cells.map(quote).join(",")).join("\n") + "\n";
}

/** Parses a table formatTrialsCsv wrote; a DataError names `source` when it is not one. */
export function parseTrialsCsv(text: string, source: string): TrialRow[] {
  const records = parseCsvRecords(text, source);
  const header = records[0];
  if (header === undefined) return [];
  const missing = FIXED.filter((column) => !header.includes(column));
  if (missing.length > 0) throw new DataError(`${source} is not a trials table: no column ${missing.join(", ")}`);
  return records.slice(1).map((cells, i) => {
    if (cells.length !== header.length) throw new DataError(`${source} line ${i + 2}: ${cells.length} cells, the header has ${header.length}`);
    return Object.fromEntries(header.map((column, c) => [column, cells[c]!]));
  });
}

/** RFC 4180 records (quoted cells may hold commas, quotes and newlines). */
function parseCsvRecords(text: string, source: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  const endCell = () => {
    record.push(cell);
    cell = "";
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else {
        if (c === '"') quoted = false;
        else cell += c;
        i++;
      }
    } else if (c === '"' && cell === "") {
      quoted = true;
      i++;
    } else if (c === ",") {
      endCell();
      i++;
    } else if (c === "\n" || c === "\r") {
      endCell();
      records.push(record);
      record = [];
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      cell += c;
      i++;
    }
  }
  if (quoted) throw new DataError(`${source}: a quoted cell is not closed`);
  if (cell !== "" || record.length > 0) {
    endCell();
    records.push(record);
  }
  return records;
}

/**
 * The setting a later search starts from: the chosen run of the most recent tuned update in `rows` whose metric is
 * `metric`, read back through `space`. Undefined, with the reason, when there is none or it does not fit the space
 * (another space: an entry missing, or a value out of its domain).
 */
export function previousBest(rows: readonly TrialRow[], space: SearchSpace, metric: string): { params: Params; update: number; value: number } | { reason: string } {
  const chosen = rows.filter((r) => r["chosen"] === "1" && r["metric"] === metric && r["status"] === "ok");
  if (chosen.length === 0) return { reason: `the history has no chosen ${metric} trial` };
  const last = chosen.reduce((a, b) => (Number(b["update"]) >= Number(a["update"]) ? b : a));
  const params: Params = {};
  for (const [key, domain] of space) {
    const cell = last[PARAM_PREFIX + key];
    if (cell === undefined || cell === "") return { reason: `update ${last["update"]}'s best setting has no value for "${key}" (another search space)` };
    const value = parseParam(domain, cell);
    if (value === undefined) return { reason: `update ${last["update"]}'s best ${key} = ${cell} is outside this search space` };
    params[key] = value;
  }
  return { params, update: Number(last["update"]), value: Number(last["value"]) };
}
