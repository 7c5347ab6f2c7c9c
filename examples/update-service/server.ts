/**
 * A small update service on relearn's job queue: one model per lineage (a customer, a device...), each kept in
 * its own state folder. New data arrives over HTTP as a chunk; the service stores it, enqueues an update for the
 * lineage, and answers at once with the job id (or, with ?wait=1, once the update is written). Workers
 * (`relearn worker --redis ...`, any number, on any machine that sees the same folders) run the updates, one at a
 * time per lineage and in the order the chunks arrived. Predictions come from the lineage's newest state.
 *
 *   npx tsx examples/update-service/server.ts --redis redis://127.0.0.1:6379 --config relearn.json --root service-data --port 8080
 *
 *   POST /lineages/<name>/chunks    a CSV body (features and a label column), or JSON {"rows": [[x1, ..., xn, label], ...]}
 *                                   -> 202 {"jobId", "lineage", "seq"}; with ?wait=1 -> 200 with the update's result
 *   POST /lineages/<name>/predict   a CSV body (features only), or JSON {"rows": [[x1, ..., xn], ...]}
 *                                   -> 200 {"classes": [...], "probabilities": [[...], ...]}; 404 before the first update;
 *                                   503 (Retry-After) in the rare case updates kept replacing the state while it was read
 *   GET  /jobs/<id>                 -> {"state": "waiting" | "active" | "delayed" | "completed" | "failed", "result"?, "failedReason"?}
 *
 * Lineage names are folder names: letters, digits, "_" and "-". Only for a trusted network: no authentication.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
// The package's two entries, from source (in your project: from "relearn" and "relearn/queue").
import { RelearnError, StateBusyError, StateError, predictState, readConfig } from "../../src/index.js";
import { UpdateProducer, checkRedisReachable, parseRedisUrl } from "../../src/queue/index.js";

const { values: args } = parseArgs({
  options: {
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    config: { type: "string", default: "relearn.json" },
    root: { type: "string", default: "service-data" },
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
  },
});

const target = parseRedisUrl(args.redis);
await checkRedisReachable(target);
const config = await readConfig(args.config);
const root = resolve(args.root);
const producer = new UpdateProducer(target);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function lineageFolder(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new HttpError(400, `lineage "${name}": use 1-64 letters, digits, "_" or "-"`);
  return join(root, name);
}

async function body(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request) {
    size += (part as Buffer).length;
    if (size > 50 * 1024 * 1024) throw new HttpError(413, "the body is over 50 MB: send smaller chunks");
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Whether the body is JSON rows (else CSV as sent). */
const isJson = (request: IncomingMessage) => (request.headers["content-type"] ?? "").includes("json");

/**
 * The body as CSV text: CSV as sent, or JSON rows written as CSV without a header. JSON rows are positional (the
 * features in the model's order, then the label), so they are read with header false (`JSON_ROWS`): no row is taken
 * for a header, and names made up for them would not be the lineage's column names (which a CSV header is checked against).
 */
function asCsv(request: IncomingMessage, text: string): string {
  if (!isJson(request)) return text;
  let rows: unknown;
  try {
    rows = (JSON.parse(text) as { rows?: unknown }).rows;
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every((row) => Array.isArray(row) && row.length === (rows as unknown[][])[0]!.length)) {
    throw new HttpError(400, 'expected {"rows": [[...], ...]}: a non-empty list of rows of equal length');
  }
  return (rows as unknown[][]).map((row) => row.join(",")).join("\n") + "\n";
}

/** How JSON rows written by asCsv are read: line 1 is a row. */
const JSON_ROWS = { header: false } as const;

async function addChunk(request: IncomingMessage, lineage: string, wait: boolean): Promise<[number, unknown]> {
  const folder = lineageFolder(lineage);
  const json = isJson(request);
  const csv = asCsv(request, await body(request));
  await mkdir(join(folder, "chunks"), { recursive: true });
  const chunk = join(folder, "chunks", `${Date.now()}-${randomUUID().slice(0, 8)}.csv`);
  await writeFile(chunk, csv);
  const state = join(folder, "state");
  // One folder per lineage, updated in place: the first update starts fresh, every later one continues it.
  const job = await producer.enqueue(
    { config, data: { path: chunk }, inputState: state, resumeIfExists: true, outputState: state, ...(json ? { overrides: { data: JSON_ROWS } } : {}) },
    { lineage },
  );
  if (!wait) return [202, job];
  return [200, { ...job, result: await producer.waitFor(job.jobId) }];
}

async function predictFor(request: IncomingMessage, lineage: string): Promise<[number, unknown]> {
  const state = join(lineageFolder(lineage), "state");
  // Not checked before reading: an update committing its new state has, for a moment, no folder at that path (the
  // read waits for it). After a failed read, no folder means the lineage never had a state.
  const scratch = await mkdtemp(join(tmpdir(), "relearn-service-"));
  try {
    const file = join(scratch, "rows.csv");
    await writeFile(file, asCsv(request, await body(request)));
    const predictions = await predictState({ state, data: { path: file }, ...(isJson(request) ? { format: JSON_ROWS } : {}) }).catch((error: unknown) => {
      if (error instanceof StateError && !(error instanceof StateBusyError) && !existsSync(state)) {
        throw new HttpError(404, `lineage ${lineage} has no state yet: POST a chunk first`);
      }
      throw error;
    });
    const c = predictions.numClasses;
    return [200, {
      classes: Array.from(predictions.classes),
      probabilities: Array.from({ length: predictions.classes.length }, (_, i) => Array.from(predictions.probabilities!.subarray(i * c, (i + 1) * c))),
      ...(predictions.classNames === undefined ? {} : { classNames: predictions.classNames }),
    }];
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function jobStatus(id: string): Promise<[number, unknown]> {
  const status = await producer.status(id);
  if (status === undefined) throw new HttpError(404, `no job ${id}`);
  return [200, status];
}

async function route(request: IncomingMessage): Promise<[number, unknown]> {
  const url = new URL(request.url ?? "/", "http://service");
  const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  if (request.method === "POST" && parts.length === 3 && parts[0] === "lineages" && parts[2] === "chunks") return addChunk(request, parts[1]!, url.searchParams.get("wait") === "1");
  if (request.method === "POST" && parts.length === 3 && parts[0] === "lineages" && parts[2] === "predict") return predictFor(request, parts[1]!);
  if (request.method === "GET" && parts.length === 2 && parts[0] === "jobs") return jobStatus(parts[1]!);
  throw new HttpError(404, "routes: POST /lineages/<name>/chunks, POST /lineages/<name>/predict, GET /jobs/<id>");
}

const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  route(request).then(
    ([status, value]) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(value));
    },
    (error: Error) => {
      // Bad data or options (a RelearnError; a QueueError for an invalid job is one) are the client's to fix. A state
      // that updates kept replacing while it was read (StateBusyError) is fine: the client should just retry. A
      // damaged state (any other StateError) is ours, like anything else.
      const status = error instanceof HttpError ? error.status
        : error instanceof StateBusyError ? 503
        : error instanceof StateError ? 500
        : error instanceof RelearnError ? 400 : 500;
      response.writeHead(status, { "content-type": "application/json", ...(status === 503 ? { "retry-after": "1" } : {}) });
      response.end(JSON.stringify({ error: error.message }));
    },
  );
});

server.listen(Number(args.port), args.host, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : args.port;
  process.stdout.write(`update service on http://${args.host}:${port} (states under ${root}, queue at ${target.display})\n`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    // Closing the Redis connections waits for Redis; if it is away, do not wait for ever.
    setTimeout(() => process.exit(0), 2000).unref();
    void producer.close().then(() => process.exit(0));
  });
}
