/**
 * TensorBoard event files for scalars, written without tfjs-node: the
 * writer appending to a file in a folder (Node). The record format, encoding
 * and the reader are in tensorboard_records.ts, which every host shares.
 */
import { appendFile, mkdir, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { RelearnError } from "../errors.js";
import { fileVersionRecord, scalarRecord } from "./tensorboard_records.js";

export { crc32c, maskedCrc32c, readEventFile, type EventRecord } from "./tensorboard_records.js";

// ---------------------------------------------------------------- writer

/** Options of {@link TensorBoardWriter.create}. */
export interface TensorBoardWriterOptions {
  /** Milliseconds since the Unix epoch; default `Date.now`. Injected by tests for deterministic files. */
  wallClock?: () => number;
  /** Host name in the file name; default `os.hostname()`. */
  hostname?: string;
}

/**
 * Appends scalar events to a new event file `events.out.tfevents.<seconds>.<hostname>`
 * in a folder. `scalar()` only buffers; `flush()` appends the buffer to the file.
 */
export class TensorBoardWriter {
  private pending: Uint8Array[] = [];
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    /** Path of the event file. */
    readonly path: string,
    private readonly wallClock: () => number,
  ) {}

  /**
   * Creates `dir` if needed and a new event file in it holding the file-version record.
   * Never overwrites: when the name is taken (two writers in the same second), a `.1`, `.2`, ... suffix is added.
   */
  static async create(dir: string, options: TensorBoardWriterOptions = {}): Promise<TensorBoardWriter> {
    const wallClock = options.wallClock ?? Date.now;
    const now = wallClock();
    const host = (options.hostname ?? osHostname()).replace(/[^A-Za-z0-9._-]/g, "_") || "localhost";
    const base = `events.out.tfevents.${Math.floor(now / 1000)}.${host}`;
    const firstRecord = fileVersionRecord(now / 1000);
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const path = join(dir, attempt === 0 ? base : `${base}.${attempt}`);
      try {
        await writeFile(path, firstRecord, { flag: "wx" });
        return new TensorBoardWriter(path, wallClock);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 999) throw error;
      }
    }
  }

  /** Buffers one scalar event; the wall time is taken now. `step` is an integer (int64 in the file). */
  scalar(tag: string, value: number, step: number): void {
    if (this.closed) throw new RelearnError(`TensorBoardWriter(${this.path}) is closed; scalar("${tag}") came after close()`);
    if (typeof tag !== "string" || tag.length === 0) throw new RangeError(`scalar tag must be a non-empty string, got ${JSON.stringify(tag)}`);
    if (typeof value !== "number") throw new RangeError(`scalar "${tag}": value must be a number, got ${typeof value}`);
    if (!Number.isSafeInteger(step)) throw new RangeError(`scalar "${tag}": step must be a safe integer, got ${step}`);
    this.pending.push(scalarRecord(this.wallClock() / 1000, step, tag, value));
  }

  /** Appends every buffered event to the file. Flushes run one after another, in call order. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return this.writing;
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    const write = this.writing.then(() => appendFile(this.path, bytes));
    // A failed append is reported to its caller; later flushes still run.
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Flushes and refuses further scalars. Closing twice is harmless. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}

