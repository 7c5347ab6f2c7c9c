/**
 * Makes data/letter/letter-recognition.csv.gz: the UCI Letter Recognition data
 * (Slate 1991; 20,000 rows, 16 integer features, 26 classes A-Z) as a numeric
 * CSV that relearn reads without R, from the copy in Debian's r-cran-mlbench
 * (an xz-compressed R data file). Rows keep the original order (the UCI
 * convention: the first 16,000 train, the last 4,000 test); the label column
 * holds 0-25 for A-Z (see LETTER_CLASSES). Deterministic: the same input gives
 * the same bytes (gzip header without a timestamp or file name).
 *
 * Needs the `xz` program (xz-utils) to decompress the .rda file; R is not needed.
 *
 * Usage: npx tsx scripts/make-letter-csv.ts [LetterRecognition.rda] [output.csv.gz]
 *   the input defaults to /usr/lib/R/site-library/mlbench/data/LetterRecognition.rda
 *   (apt-get install r-cran-mlbench, or `apt-get download r-cran-mlbench` and `dpkg-deb -x` it)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { LETTER_CLASSES } from "../src/data/letter_classes.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const input = process.argv[2] ?? "/usr/lib/R/site-library/mlbench/data/LetterRecognition.rda";
const output = process.argv[3] ?? join(root, "data", "letter", "letter-recognition.csv.gz");

/** An R object as far as a data frame of factors and numbers needs: type, values, attributes. */
interface RObject {
  type: number;
  values?: (number | string | null | RObject)[];
  name?: string;
  attributes?: Map<string, RObject>;
}

// SEXP types of R's serialization format (R Internals, "Serialization Formats").
const NILSXP = 0, SYMSXP = 1, LISTSXP = 2, CHARSXP = 9, LGLSXP = 10, INTSXP = 13, REALSXP = 14, STRSXP = 16, VECSXP = 19;
const REFSXP = 255, NILVALUE_SXP = 254, GLOBALENV_SXP = 253, EMPTYENV_SXP = 242, BASEENV_SXP = 241;
const NA_INTEGER = -2147483648;

/** Reads R's XDR (big-endian) serialization, version 2 or 3, of plain vectors, lists and pairlists. */
class XdrReader {
  private offset = 0;
  private readonly view: DataView;
  private readonly refs: RObject[] = [];
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  int(): number {
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }
  double(): number {
    const v = this.view.getFloat64(this.offset);
    this.offset += 8;
    return v;
  }
  header(): void {
    const magic = new TextDecoder().decode(this.bytes.subarray(0, 5));
    if (magic !== "RDX2\n" && magic !== "RDX3\n") throw new Error(`${input}: not an R data file in XDR format (starts ${JSON.stringify(magic)})`);
    this.offset = 5;
    if (String.fromCharCode(this.bytes[5] ?? 0, this.bytes[6] ?? 0) !== "X\n") throw new Error(`${input}: only XDR serialization is supported`);
    this.offset = 7;
    const version = this.int();
    this.int(); // R version that wrote it
    this.int(); // minimal R version to read it
    if (version === 3) this.offset += this.int(); // native encoding name
  }
  object(): RObject {
    const flags = this.int();
    const type = flags & 0xff;
    const hasAttributes = (flags & (1 << 9)) !== 0;
    const hasTag = (flags & (1 << 10)) !== 0;
    switch (type) {
      case NILVALUE_SXP:
      case GLOBALENV_SXP:
      case EMPTYENV_SXP:
      case BASEENV_SXP:
        return { type: NILSXP };
      case REFSXP: {
        const ref = this.refs[(flags >> 8) - 1];
        if (!ref) throw new Error(`${input}: reference ${flags >> 8} before its definition`);
        return ref;
      }
      case SYMSXP: {
        const name = this.object();
        const symbol: RObject = { type: SYMSXP, name: String(name.values?.[0]) };
        this.refs.push(symbol);
        return symbol;
      }
      case LISTSXP: {
        // A pairlist: attributes, tag, head, then the tail as the next object.
        const attributes = hasAttributes ? this.attributes() : undefined;
        const tag = hasTag ? this.object().name : undefined;
        const head = this.object();
        const tail = this.object();
        const cell: RObject = { type: LISTSXP, values: [head, tail], ...(tag === undefined ? {} : { name: tag }) };
        if (attributes) cell.attributes = attributes;
        return cell;
      }
      case CHARSXP: {
        const length = this.int();
        if (length === -1) return { type: CHARSXP, values: [null] };
        const text = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
        this.offset += length;
        return { type: CHARSXP, values: [text] };
      }
      case LGLSXP:
      case INTSXP:
      case REALSXP:
      case STRSXP:
      case VECSXP: {
        const length = this.int();
        const values: (number | string | null | RObject)[] = [];
        for (let i = 0; i < length; i++) {
          if (type === REALSXP) values.push(this.double());
          else if (type === STRSXP) values.push(this.object().values?.[0] ?? null);
          else if (type === VECSXP) values.push(this.object());
          else {
            const v = this.int();
            values.push(v === NA_INTEGER ? null : v);
          }
        }
        const vector: RObject = { type, values };
        if (hasAttributes) vector.attributes = this.attributes();
        return vector;
      }
      default:
        throw new Error(`${input}: R object type ${type} is not supported by this reader`);
    }
  }
  /** An attribute pairlist as a name -> value map. */
  private attributes(): Map<string, RObject> {
    const map = new Map<string, RObject>();
    let cell = this.object();
    while (cell.type === LISTSXP) {
      const [head, tail] = cell.values as [RObject, RObject];
      map.set(cell.name ?? "", head);
      cell = tail;
    }
    return map;
  }
}

const bytes = new Uint8Array(execFileSync("xz", ["-dc", input], { maxBuffer: 1 << 28 }));
const reader = new XdrReader(bytes);
reader.header();
// An .rda file is a pairlist of (name, object); LetterRecognition holds one data frame.
const top = reader.object();
const frame = top.values?.[0] as RObject | undefined;
const names = frame?.attributes?.get("names")?.values as string[] | undefined;
if (!frame || frame.type !== VECSXP || !names) throw new Error(`${input}: expected a data frame`);
const columns = frame.values as RObject[];
const labelIndex = names.indexOf("lettr");
const labelColumn = columns[labelIndex];
const levels = labelColumn?.attributes?.get("levels")?.values as string[] | undefined;
if (!labelColumn || !levels || levels.join("") !== LETTER_CLASSES.join("")) {
  throw new Error(`${input}: expected a factor column "lettr" with levels A-Z, got ${JSON.stringify(levels)}`);
}
const featureIndices = names.map((_, i) => i).filter((i) => i !== labelIndex);
const rows = labelColumn.values?.length ?? 0;
const lines = [[...featureIndices.map((i) => names[i]), "label"].join(",")];
for (let r = 0; r < rows; r++) {
  const fields = featureIndices.map((i) => {
    const v = columns[i]?.values?.[r];
    if (typeof v !== "number" || !Number.isInteger(v)) throw new Error(`${input}: row ${r + 1}, column ${names[i]}: ${String(v)} is not an integer`);
    return String(v);
  });
  const code = labelColumn.values?.[r];
  if (typeof code !== "number") throw new Error(`${input}: row ${r + 1} has no letter`);
  lines.push([...fields, String(code - 1)].join(",")); // R factor codes are 1-based
}
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, gzipSync(new TextEncoder().encode(lines.join("\n") + "\n"), { level: 9 }));
console.log(`wrote ${output}: ${rows} rows, ${featureIndices.length} features, ${levels.length} classes`);
