/**
 * One error class per concern, all under RelearnError, so callers can catch
 * "anything relearn rejected" or one concern precisely. Messages name the
 * offending file, row, option or value: a user must be able to act on them.
 */
export class RelearnError extends Error {
  // Spelled out in every class, not taken from the constructor's name: minifiers rename classes, and a page or a
  // worker message (browser/worker_protocol.ts) must still say "StateError".
  override name = "RelearnError";
}

/** Bad options passed to an updater, a model spec or a CLI flag. */
export class OptionsError extends RelearnError {
  override name = "OptionsError";
}

/** Malformed, inconsistent or out-of-range data (files, datasets, labels). */
export class DataError extends RelearnError {
  override name = "DataError";
}

/** A model that cannot be built, re-initialised, saved or loaded. */
export class ModelError extends RelearnError {
  override name = "ModelError";
}

/** A replay buffer used inconsistently (e.g. metadata keys that change). */
export class MemoryError extends RelearnError {
  override name = "MemoryError";
}

/**
 * Training that went numerically wrong: a loss, metric or weight that is NaN
 * or infinite. The update that hit it fails and writes nothing.
 */
export class TrainingError extends RelearnError {
  override name = "TrainingError";
}

/** A state folder that is missing pieces, corrupt or of another format. */
export class StateError extends RelearnError {
  override name = "StateError";
}

/**
 * A state that could not be read because writers kept replacing it while it was read (each read is retried a few
 * times first): nothing is wrong with it, try again (a service answers 503). Never thrown for a damaged state.
 */
export class StateBusyError extends StateError {
  override name = "StateBusyError";
}

/** A backend that cannot be started or cannot honour an option. */
export class BackendError extends RelearnError {
  override name = "BackendError";
}
