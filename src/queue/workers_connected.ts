/**
 * How many relearn workers serve a queue in one Redis database. BullMQ's `getWorkersCount` lists the workers of a
 * queue name on the whole server (its CLIENT LIST matches connection names, which do not carry the database), so a
 * worker on db 0 would count for a job queued on db 5, which it never takes: the "no worker is connected" note
 * would then stay silent in exactly the case it is for (tester G, F14). CLIENT LIST gives each connection's db.
 */
import type { Queue } from "bullmq";

export async function workersServing(queue: Queue, db: number): Promise<number> {
  const workers = await queue.getWorkers();
  // An entry without a db (a server that hides CLIENT LIST, e.g. GCP's) is counted: the note must not cry wolf.
  return workers.filter((worker) => worker["db"] === undefined || worker["db"] === String(db)).length;
}

/**
 * The note printed when `workersServing` is 0, so update, job and benchmark say it alike. `waiting` says what waits
 * ("the job waits", "the cells wait"); `display` is the Redis URL as printed (password masked).
 */
export function noWorkerNote(waiting: string, display: string): string {
  return `no relearn worker is connected to this Redis yet: ${waiting} in the queue until one starts (relearn worker --redis ${display})`;
}
