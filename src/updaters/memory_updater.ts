/**
 * The base of every updater that keeps a replay memory (RD, ER, offline ER,
 * DER++, GDumb): the memory itself, its capacity and slot policy, and its
 * place in the state folder, written and checked the same way for all.
 */
import type { Dataset } from "../data/dataset.js";
import type { SlotPolicyName } from "../memory/slot_policy.js";
import { Random } from "../random.js";
import type { BatchSource } from "../training/batch_source.js";
import { ReplayBuffer } from "../memory/replay_buffer.js";
import { loadMemory, saveMemory } from "./memory_state.js";
import type { StateReader, StateWriter } from "../state/store.js";
import { ModelUpdater, type OutputCheck } from "./model_updater.js";
import type { ResolvedOptions } from "./options.js";
import { replaySource, type ReplaySourceOptions } from "./replay_source.js";

export abstract class MemoryModelUpdater extends ModelUpdater {
  /** Capacity of the memory (items). */
  readonly memorySize: number;
  /** The replay memory; replaced by the resumed one when a state is loaded. */
  memory: ReplayBuffer;

  protected constructor(options: ResolvedOptions & { memorySize: number }, private readonly policy: SlotPolicyName) {
    super(options);
    this.memorySize = options.memorySize;
    this.memory = new ReplayBuffer({ capacity: options.memorySize, policy, seed: options.seed });
  }

  /**
   * The chunk's batches with memory batches of `memoryBatchSizes` appended
   * (replay_source.ts): train transforms on chunk rows, buffer transforms on
   * memory rows, memory draws seeded by this update; chunk rows belong to
   * task `taskId`, memory rows to their own.
   */
  protected replayBatches(
    chunk: Dataset,
    taskId: string,
    memoryBatchSizes: readonly number[],
    extra: Pick<ReplaySourceOptions, "memoryTargets" | "chunkTargets" | "afterStep"> = {},
  ): BatchSource {
    return replaySource({
      chunk,
      taskId,
      chunkTransforms: this.trainTransforms,
      memory: this.memory,
      memoryTransforms: this.bufferTransforms,
      memoryBatchSizes,
      draws: Random.fromSeed(this.phaseSeed("memory-draws")),
      ...extra,
    });
  }

  /** The chunk and the memory: replayed items go through their own tasks' heads. */
  protected override outputChecks(trainDataset: Dataset, taskId: string): OutputCheck[] {
    const checks = super.outputChecks(trainDataset, taskId);
    if (this.memory.length > 0) checks.push({ data: this.memory.asDataset(), tasks: this.memory.tasks(), what: "the replay memory" });
    return checks;
  }

  protected async saveAlgorithmState(files: StateWriter): Promise<Record<string, unknown>> {
    return { memory: await saveMemory(files, this.memory) };
  }

  protected async loadAlgorithmState(files: StateReader, data: Record<string, unknown>): Promise<void> {
    this.memory = await loadMemory(files, data["memory"], {
      kind: this.kind,
      capacity: this.memorySize,
      policy: this.policy,
      multiHead: this.model.multiHead,
    });
  }
}
