/**
 * The contract between the replay buffer and its slot policy: the buffer
 * offers items one at a time and writes each wherever the policy says; the
 * policy alone knows the rule (reservoir, class-balanced, ...). Policies may
 * keep bookkeeping derived from the stored labels, plus a small JSON state
 * for what the labels cannot tell (e.g. classes offered but since evicted).
 */
import type { Random } from "../random.js";

/** The policies a ReplayBuffer can be built with. */
export type SlotPolicyName = "reservoir" | "class-balanced";

/** All policy names, for validation and messages. */
export const SLOT_POLICY_NAMES: readonly SlotPolicyName[] = ["reservoir", "class-balanced"];

/** JSON-serialisable policy state persisted in buffer snapshots. */
export type SlotPolicyState = Record<string, unknown>;

/** Where the buffer stands when an item is offered. */
export interface BufferProgress {
  /** Items offered before this one (so this item is number `seen`, 0-based). */
  readonly seen: number;
  /** Items currently stored (slots 0..length-1). */
  readonly length: number;
}

/** A rule deciding which slot each offered item goes to. */
export interface SlotPolicy {
  readonly name: SlotPolicyName;
  /**
   * Slot for the next offered item of class `label`: `progress.length` to
   * append, a slot below it to overwrite, or -1 to drop the item. The policy
   * updates its own bookkeeping as if the buffer writes the item there.
   */
  chooseSlot(label: number, progress: BufferProgress, random: Random): number;
  /** State to persist beside the stored labels so `restore` can resume exactly. */
  exportState(): SlotPolicyState;
}
