/** Parsers of numeric command-line flags (commander argParsers): a bad value is an InvalidArgumentError naming it. */
import { InvalidArgumentError } from "commander";

/** A comma-separated list, each item parsed by `parse`. */
export const list = (parse: (s: string) => number) => (value: string) => value.split(",").map((s) => parse(s.trim()));
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  return n;
}
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}
