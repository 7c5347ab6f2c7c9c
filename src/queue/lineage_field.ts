/**
 * The `lineage` field of a job's data: which model lineage the job belongs to and its place in that lineage's
 * order (lineage.ts explains both). Its own small module so job kinds can declare it without importing Redis.
 */
import * as z from "zod";

/** A lineage name: any non-empty text up to 200 characters (e.g. a customer id, or a state folder's path). */
export const lineageNameSchema = z.string().min(1).max(200);

export const lineageFieldSchema = z.strictObject({
  name: lineageNameSchema,
  /** 1 for the lineage's first job ever enqueued, 2 for the next, ...: the order jobs are applied in. */
  seq: z.number().int().positive(),
});

export type LineageField = z.output<typeof lineageFieldSchema>;
