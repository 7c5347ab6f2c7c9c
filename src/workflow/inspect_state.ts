/**
 * `relearn inspect`: what a state folder holds, checked whole first (manifest,
 * format version, checksums): format and library version, updater and
 * options, updates so far, the memory and its class histogram, and the
 * metrics history of every update.
 */
import { join } from "node:path";
import { StateError } from "../errors.js";
import type { SlotPolicyName } from "../memory/slot_policy.js";
import { readStateFolder } from "../state/read_state.js";
import { loadMemory } from "../updaters/memory_state.js";
import { readStateLogs, type EpochRecord } from "../reporting/state_logs.js";

export interface StateInspection {
  dir: string;
  formatVersion: number;
  library: { name: string; version: string };
  updater: string;
  updatesDone: number;
  options: Record<string, unknown>;
  files: number;
  bytes: number;
  model: unknown;
  memory?: { length: number; capacity: number; seen: number; policy: string; classHistogram: number[] };
  validationSets: { taskId: string; items: number }[];
  metricsHistory: EpochRecord[];
}

export async function inspectState(dir: string): Promise<StateInspection> {
  const state = await readStateFolder(dir);
  if (!state) throw new StateError(`${dir}: no state folder there`);
  const data = state.data as {
    updatesDone: number;
    options: Record<string, unknown>;
    validation?: { taskId: string; labels: { length: number } }[];
    algorithm?: { memory?: { meta?: { capacity?: number; policy?: SlotPolicyName } } };
  };
  const files = Object.values(state.manifest.files);
  const memoryMeta = data.algorithm?.memory?.meta;
  let memory: StateInspection["memory"];
  if (memoryMeta?.capacity !== undefined && memoryMeta.policy !== undefined) {
    const multiHead = (state.data as { model?: { multiHead?: unknown } }).model?.multiHead === true;
    const buffer = await loadMemory(state.dir, data.algorithm!.memory, { kind: state.manifest.kind, capacity: memoryMeta.capacity, policy: memoryMeta.policy, multiHead });
    memory = { length: buffer.length, capacity: buffer.capacity, seen: buffer.seen, policy: buffer.policy, classHistogram: buffer.classHistogram() };
  }
  return {
    dir: state.dir,
    formatVersion: state.manifest.formatVersion,
    library: state.manifest.library,
    updater: state.manifest.kind,
    updatesDone: data.updatesDone,
    options: data.options,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    model: (state.data as { model?: unknown }).model ?? null,
    ...(memory ? { memory } : {}),
    validationSets: (data.validation ?? []).map((v) => ({ taskId: v.taskId, items: v.labels.length })),
    metricsHistory: await readStateLogs(join(state.dir, "logs")),
  };
}
