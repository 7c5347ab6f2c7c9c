/**
 * The files of a state held in memory, for tests of code that reads and
 * writes through a StateWriter / StateReader (columns, JSON) without a store.
 */
import { StateError } from "../../src/errors.js";
import { checkRelativePath } from "../../src/state/format.js";
import type { StateReader, StateWriter } from "../../src/state/store.js";

const utf8 = new TextEncoder();

/** Files by relative path, in the order written. */
export class MemoryStateFiles implements StateWriter, StateReader {
  readonly files = new Map<string, Uint8Array>();

  /** `location` names the state in messages. */
  constructor(readonly location: string) {}

  writeFile(path: string, content: Uint8Array | string): Promise<void> {
    const problem = checkRelativePath(path);
    if (problem !== undefined) throw new StateError(`cannot write "${path}" into ${this.location}: the path ${problem}`);
    if (this.files.has(path)) throw new StateError(`${this.location}/${path} was written twice while building one state`);
    // A copy: the caller may reuse its buffer (a column's typed array) after the call.
    this.files.set(path, typeof content === "string" ? utf8.encode(content) : content.slice());
    return Promise.resolve();
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  readFile(path: string): Promise<Uint8Array> {
    const bytes = this.files.get(path);
    if (bytes === undefined) return Promise.reject(new StateError(`${this.location}/${path} is missing (not a file of this state)`));
    return Promise.resolve(bytes);
  }
}
