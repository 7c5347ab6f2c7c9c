/**
 * `relearn/queue`: relearn's job queue as a library, for a service that updates models in the background
 * (examples/update-service). Updates are jobs in a Redis (BullMQ); workers run each one in a fresh process, the
 * updates of one model lineage one at a time and in the order they were enqueued.
 *
 *   import { parseRedisUrl, checkRedisReachable, UpdateProducer, startWorker } from "relearn/queue";
 *   const redis = parseRedisUrl("redis://127.0.0.1:6379");
 *   await checkRedisReachable(redis);
 *   const worker = startWorker({ redis });                       // or `relearn worker --redis ...`, any number, anywhere
 *   const producer = new UpdateProducer(redis);
 *   const job = await producer.enqueue({ config, data: { path: "/data/chunk1.csv" }, outputState: "/states/a" });
 *   const result = await producer.waitFor(job.jobId);            // or producer.status(job.jobId) now and then
 *   await producer.close();
 *   await worker.close();
 *
 * A separate entry so that `import "relearn"` never loads BullMQ or ioredis (test/package/entry_imports.test.ts).
 * What the CLI does on top (`relearn update --queue`, `relearn worker`'s signal handling) stays in src/cli/.
 */
export { parseRedisUrl, checkRedisReachable, type RedisTarget, type ReachOptions } from "./connection.js";
export { UpdateProducer, UPDATE_JOB_OPTIONS, type EnqueuedUpdate, type UpdateJobStatus } from "./enqueue.js";
export type { UpdateJobInput, UpdateJobResult } from "./jobs/update.js";
export { startWorker, type WorkerOptions, type RelearnWorker } from "./worker.js";
export { QueueError } from "./errors.js";
export { QUEUE_NAME } from "./names.js";
