/**
 * Node-only reading of data files as bytes, gzip'd or not (told by the gzip
 * magic bytes 1f 8b, never by the name): the whole file, its start to tell
 * its kind (file_kind.ts) without reading a large file twice, or the file
 * chunk by chunk, so a large file is decoded without ever being held whole.
 */
import { createReadStream } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { constants, createGunzip, gunzip, gunzipSync } from "node:zlib";
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

/** The first bytes of a file as stored (up to `length`). */
async function readRawStart(path: string, length: number): Promise<Uint8Array> {
  try {
    const handle = await open(path, "r");
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Calls `onChunk` on the file's bytes, decompressed when it is gzip'd, chunk
 * after chunk in order (each chunk is the callee's to keep or drop). Memory
 * stays at a few chunks whatever the file's size: readMaybeGzip of a 47 MB
 * image file holds the compressed and the decompressed file at once, and
 * both linger until the garbage collector runs. Errors thrown by `onChunk`
 * end the read and reach the caller as they are.
 */
export async function streamMaybeGzip(path: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const gzip = isGzip(await readRawStart(path, 2));
  // onChunk's error is kept aside: the pipeline would report the streams it tears down (an AbortError) instead.
  let failure: { error: unknown } | undefined;
  const sink = async (source: AsyncIterable<Uint8Array>): Promise<void> => {
    for await (const chunk of source) {
      try {
        onChunk(chunk);
      } catch (error) {
        failure = { error };
        return;
      }
    }
  };
  try {
    if (gzip) await pipeline(createReadStream(path), createGunzip({ chunkSize: 1 << 16 }), sink);
    else await pipeline(createReadStream(path), sink);
  } catch (error) {
    if (failure !== undefined) throw failure.error;
    // zlib's errors carry codes Z_DATA_ERROR, Z_BUF_ERROR (a truncated stream), ...
    const code = (error as { code?: unknown }).code;
    const what = typeof code === "string" && code.startsWith("Z_") ? "corrupt gzip data" : "cannot read file";
    throw new DataError(`${path}: ${what} (${(error as Error).message})`, { cause: error });
  }
  if (failure !== undefined) throw failure.error;
}

/** The first bytes of a file (up to `length`), decompressed when the file is gzip'd. */
export async function readStart(path: string, length = 4096): Promise<Uint8Array> {
  const start = await readRawStart(path, length);
  if (!isGzip(start)) return start;
  try {
    // A prefix of a gzip stream: flush what it decodes to instead of failing on the missing end.
    return gunzipSync(start, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, length);
  } catch (error) {
    throw new DataError(`${path}: corrupt gzip data (${(error as Error).message})`, { cause: error });
  }
}
