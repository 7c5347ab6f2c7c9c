/**
 * Which character separates the fields of a delimited text file (CSV, TSV,
 * Excel's ';' files, '|' database dumps), detected from the lines themselves.
 * Host-neutral: strings in, a decision out.
 *
 * A wrong guess is not silent (rows of the wrong width or fields that are not
 * numbers fail later), but a right guess saves the user a setting, so "auto"
 * decides only where the lines leave one answer and asks for the setting
 * (`data.delimiter`, `--delimiter`) otherwise.
 */
import { DataError } from "../errors.js";

/** The separators auto-detection considers, in order of preference when the lines cannot tell them apart. */
export const DELIMITERS = [",", ";", "\t", "|"] as const;

/** How the delimiter was chosen: "setting" (given), "detected" (the lines leave one answer), "remembered" (ambiguous; the state's training file decided). */
export type DelimiterRule = "setting" | "detected" | "remembered";

/** A separator as users name it in messages and settings: ',' or "tab". */
export function showDelimiter(delimiter: string): string {
  return delimiter === "\t" ? "tab" : `'${delimiter}'`;
}

/** The value to pass for `delimiter` in the config (JSON) or on the command line. */
function settingFor(delimiter: string): string {
  return delimiter === "\t" ? `"\\t" (--delimiter tab)` : `"${delimiter}" (--delimiter '${delimiter}')`;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$|^$/i;
const DECIMAL_COMMA = /^"?[+-]?\d+,\d+"?$/;
/** Lines looked at: enough to see a pattern, few enough to stay cheap on a large file. */
const SAMPLE_LINES = 200;

/**
 * The delimiter of `lines` (non-blank lines of the file, line 1 first):
 * - one candidate splits every line into the same number (>= 2) of fields: that one;
 * - several do: the one whose fields (below line 1, which may be a header) are most often numbers;
 * - none does, but exactly one occurs at all: that one (the row-width error then names the line);
 * - none occurs: ',' (a one-column file);
 * - else `fallback` (how the state's training file was read) when given, else a DataError naming the setting.
 */
export function detectDelimiter(lines: readonly string[], source: string, fallback?: string): { delimiter: string; rule: DelimiterRule } {
  const sample = lines.slice(0, SAMPLE_LINES);
  if (sample.length === 0) return { delimiter: ",", rule: "detected" };
  const counts = DELIMITERS.map((delimiter) => sample.map((line) => line.split(delimiter).length - 1));
  const consistent = DELIMITERS.filter((_, i) => counts[i]!.every((n) => n > 0 && n === counts[i]![0]));
  if (consistent.length === 1) return { delimiter: consistent[0]!, rule: "detected" };
  if (consistent.length > 1) {
    const scores = consistent.map((delimiter) => numericShare(sample.length > 1 ? sample.slice(1) : sample, delimiter));
    const best = Math.max(...scores);
    const winners = consistent.filter((_, i) => scores[i] === best);
    if (winners.length === 1) return { delimiter: winners[0]!, rule: "detected" };
    return undecided(winners, sample, source, fallback);
  }
  const present = DELIMITERS.filter((_, i) => counts[i]!.some((n) => n > 0));
  if (present.length === 0) return { delimiter: ",", rule: "detected" };
  if (present.length === 1) return { delimiter: present[0]!, rule: "detected" };
  return undecided(present, sample, source, fallback);
}

function numericShare(lines: readonly string[], delimiter: string): number {
  let numeric = 0;
  let total = 0;
  for (const line of lines) {
    for (const field of line.split(delimiter)) {
      total++;
      if (NUMERIC.test(field.trim().replace(/^"(.*)"$/, "$1"))) numeric++;
    }
  }
  return total === 0 ? 0 : numeric / total;
}

function undecided(candidates: readonly string[], sample: readonly string[], source: string, fallback: string | undefined): { delimiter: string; rule: DelimiterRule } {
  if (fallback !== undefined) return { delimiter: fallback, rule: "remembered" };
  // Excel in many locales writes "1,5;2,5": ';' between fields and ',' inside numbers, which no setting reads.
  const decimalComma = candidates.includes(";") && sample.some((line) => line.split(";").some((field) => DECIMAL_COMMA.test(field.trim())));
  throw new DataError(
    `${source}: cannot tell the delimiter: the lines could be separated by ${candidates.map(showDelimiter).join(" or ")}; ` +
      `set it in the config's "data.delimiter" or with --delimiter, e.g. ${settingFor(decimalComma ? ";" : candidates[0]!)}` +
      (decimalComma ? `; the file seems to use decimal commas (1,5): save it with '.' as decimal separator` : ""),
  );
}

/**
 * When line 1, split by `delimiter`, has a single field but holds another candidate: a hint that names the
 * setting to change ("is the delimiter ';'? set ..."); else "".
 */
export function delimiterHint(firstLine: string, delimiter: string): string {
  const other = DELIMITERS.find((candidate) => candidate !== delimiter && firstLine.includes(candidate));
  if (other === undefined) return "";
  return `is the delimiter ${showDelimiter(other)}? the file was read with ${showDelimiter(delimiter)}: set the config's "data.delimiter" to ${settingFor(other)}`;
}
