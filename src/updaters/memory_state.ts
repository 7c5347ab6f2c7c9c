/**
 * A replay memory inside an updater's state folder, shared by every updater
 * that keeps one (RD, ER, offline ER, GDumb, DER++): the buffer's JSON meta
 * goes into the manifest's `algorithm.memory` section, each column into
 * `memory/<column>.bin`.
 */
import * as z from "zod";
import { MemoryError, StateError } from "../errors.js";
import { ReplayBuffer } from "../memory/replay_buffer.js";
import type { SlotPolicyName } from "../memory/slot_policy.js";
import { columnDescriptorSchema, readColumn, writeColumn, type ColumnDescriptor } from "../state/columns_io.js";
import { describeZodIssue, MANIFEST_FILE } from "../state/format.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { DEFAULT_TASK_ID } from "../task_id.js";

/** The manifest's description of a saved memory. */
export interface SavedMemory {
  meta: unknown;
  columns: Record<string, ColumnDescriptor>;
}

const MEMORY_FOLDER = "memory";

/** The manifest's memory section; the buffer checks `meta` itself (ReplayBuffer.fromSnapshot). */
const savedMemorySchema = z.strictObject({
  meta: z.record(z.string(), z.unknown()),
  columns: z.record(z.string(), columnDescriptorSchema),
});

/** Writes `memory`'s columns under `memory/` of the state being written and returns the section for the manifest. */
export async function saveMemory(files: StateWriter, memory: ReplayBuffer): Promise<SavedMemory> {
  const snapshot = memory.toSnapshot();
  const columns: Record<string, ColumnDescriptor> = {};
  for (const [name, values] of Object.entries(snapshot.columns)) columns[name] = await writeColumn(files, MEMORY_FOLDER, name, values);
  return { meta: snapshot.meta, columns };
}

/**
 * Rebuilds the memory saveMemory wrote. `expected` is what the resuming
 * updater was configured with: a memory of another capacity or policy is a
 * StateError, never a silently different memory. A memory written before
 * items recorded their task (snapshot version 1) is read as all of the
 * default task for a single-head model, whose one head that is; for a
 * multi-head model it is a StateError, as no one knows which head its items
 * belong to.
 */
export async function loadMemory(
  files: StateReader,
  section: unknown,
  expected: { kind: string; capacity: number; policy: SlotPolicyName; multiHead: boolean },
): Promise<ReplayBuffer> {
  const dir = files.location;
  const manifest = `${dir}/${MANIFEST_FILE}`;
  const parsed = savedMemorySchema.safeParse(section);
  if (!parsed.success) {
    throw new StateError(`${manifest}: the ${expected.kind} state's memory section is invalid: ${describeZodIssue(parsed.error, ["data", "algorithm", "memory"])}`);
  }
  const memory = parsed.data;
  const columns: Record<string, Float32Array | Int32Array> = {};
  for (const [name, descriptor] of Object.entries(memory.columns)) {
    const values = await readColumn(files, MEMORY_FOLDER, descriptor);
    if (!(values instanceof Float32Array || values instanceof Int32Array)) throw new StateError(`${dir}/${MEMORY_FOLDER}/${name}: unexpected column type`);
    columns[name] = values;
  }
  let restored: ReplayBuffer;
  try {
    restored = ReplayBuffer.fromSnapshot({ meta: memory.meta, columns }, { legacyTaskId: expected.multiHead ? undefined : DEFAULT_TASK_ID });
  } catch (error) {
    // The buffer's own check knows the field, not the file: name the manifest that holds it.
    if (error instanceof MemoryError) {
      throw new StateError(`${manifest}: the memory section (data.algorithm.memory) is inconsistent: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (restored.capacity !== expected.capacity) {
    throw new StateError(
      `${dir}: the saved memory holds up to ${restored.capacity} items but memorySize is ${expected.capacity}; use the same memorySize to resume`,
    );
  }
  if (restored.policy !== expected.policy) {
    throw new StateError(`${dir}: the saved memory uses the "${restored.policy}" policy but ${expected.kind} needs "${expected.policy}"`);
  }
  return restored;
}
