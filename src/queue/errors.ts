/** The error of the queue layer: a bad Redis URL, a Redis that cannot be reached, an unknown job kind. */
import { RelearnError } from "../errors.js";

export class QueueError extends RelearnError {
  override name = "QueueError";
}
