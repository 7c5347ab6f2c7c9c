/**
 * Command-line flags of a bench script: node's parseArgs, plus `--help` (prints the script's header comment,
 * which holds its usage) and, for a mistyped or unknown flag, a one-line error naming it and pointing at --help
 * instead of a stack trace. A bench that ignored an unknown flag would measure something other than what was asked.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The first block comment of a source file, without its comment markers. */
export function headerComment(source: string): string {
  const match = /\/\*\*?([\s\S]*?)\*\//.exec(source);
  if (match === null) return "";
  return match[1]!
    .split("\n")
    .map((line) => line.replace(/^\s*\* ?/, ""))
    .join("\n")
    .trim();
}

/**
 * `parseArgs({ options })` for the script at `scriptUrl` (its `import.meta.url`). `--help` prints the header
 * comment and exits 0; a parse error (unknown flag, missing value) prints the error and exits 2.
 */
/** The parsed values, typed by the options as parseArgs types them. */
export type BenchArgs<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>["values"];

export function benchArgs<O extends Options>(scriptUrl: string, options: O, argv: string[] = process.argv.slice(2)): BenchArgs<O> {
  const name = fileURLToPath(scriptUrl).replace(/^.*\/(bench\/)/, "$1");
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${headerComment(readFileSync(fileURLToPath(scriptUrl), "utf8"))}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\nRun \`npx tsx ${name} --help\` for its flags.\n`);
    process.exit(2);
  }
}
