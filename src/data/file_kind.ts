/**
 * What a data file holds, told from its first bytes rather than its name: a
 * file named .txt, .tsv or .dat may be a perfectly good CSV, and IDX files
 * come named .idx, -ubyte, .gz or nothing at all. Host-neutral: bytes in
 * (already decompressed when the file was gzip'd), a kind out.
 */
import { DataError } from "../errors.js";

/** The formats the workflow reads; "auto" means: tell from the content (detectDataKind). */
export type DataKind = "csv" | "idx";

/** The IDX type bytes (unsigned/signed byte, int16, int32, float32, float64; see idx.ts). */
const IDX_TYPES = new Set([0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e]);

/** True when `bytes` start like an IDX file: 0x00 0x00, a type byte, then 1 to 4 dimensions. */
export function looksLikeIdx(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && IDX_TYPES.has(bytes[2]!) && bytes[3]! >= 1 && bytes[3]! <= 4;
}

/**
 * "idx" for IDX magic numbers, "csv" for text; a DataError naming `source` for anything else
 * (UTF-16 text as Excel's "Unicode Text" writes it, a spreadsheet, other binary data).
 * `start` is the beginning of the file (a few KB is enough), decompressed.
 */
export function detectDataKind(start: Uint8Array, source: string): DataKind {
  if (looksLikeIdx(start)) return "idx";
  if ((start[0] === 0xff && start[1] === 0xfe) || (start[0] === 0xfe && start[1] === 0xff)) {
    throw new DataError(`${source}: the file is UTF-16 text (Excel's "Unicode Text"): save it as "CSV UTF-8" or convert it (\`iconv -f UTF-16 -t UTF-8\`)`);
  }
  if (start[0] === 0x50 && start[1] === 0x4b) {
    throw new DataError(`${source}: the file is a ZIP archive (an .xlsx spreadsheet or a .zip): export the sheet as CSV, or unzip it, and pass that file`);
  }
  if (start.includes(0)) {
    throw new DataError(
      `${source}: binary data that is not IDX (no IDX magic number 0x00 0x00 <type> <dims>) and not text: pass a CSV/TSV text file or an IDX file (plain or gzip'd)`,
    );
  }
  return "csv";
}
