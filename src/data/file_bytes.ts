/**
 * Node-only reading of data files as bytes, gzip'd or not (told by the gzip
 * magic bytes 1f 8b, never by the name): the whole file, or its start to
 * tell its kind (file_kind.ts) without reading a large file twice.
 */
import { open, readFile } from "node:fs/promises";
import { constants, gunzip, gunzipSync } from "node:zlib";
import { promisify } from "node:util";
import { DataError } from "../errors.js";

const gunzipAsync = promisify(gunzip);

const isGzip = (bytes: Uint8Array) => bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Reads a file and decompresses it when it starts with the gzip magic bytes 1f 8b. */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { cause: error });
  }
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipAsync(bytes);
  } catch (error) {
    throw new DataError(`${path}: corrupt gzip data (${(error as Error).message})`, { cause: error });
  }
}

/** The first bytes of a file (up to `length`), decompressed when the file is gzip'd. */
export async function readStart(path: string, length = 4096): Promise<Uint8Array> {
  let start: Uint8Array;
  try {
    const handle = await open(path, "r");
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, 0);
      start = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { cause: error });
  }
  if (!isGzip(start)) return start;
  try {
    // A prefix of a gzip stream: flush what it decodes to instead of failing on the missing end.
    return gunzipSync(start, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, length);
  } catch (error) {
    throw new DataError(`${path}: corrupt gzip data (${(error as Error).message})`, { cause: error });
  }
}
