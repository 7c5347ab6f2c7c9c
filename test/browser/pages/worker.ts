/**
 * The module Worker of the browser tests: runs one computation
 * (computations.ts) per message and posts back its bytes or its error.
 * Message in: { backend, name, args }; out: { bytes } or { error }.
 */
import { runComputation, type ComputationArgs } from "./computations.js";
import { startBackend } from "./browser_backend.js";

interface Request {
  backend: string;
  name: string;
  args: ComputationArgs;
}

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

scope.onmessage = (event) => {
  const { backend, name, args } = event.data;
  startBackend(backend)
    .then(() => runComputation(name, args))
    .then(
      (bytes) => scope.postMessage({ bytes }, [bytes.buffer]),
      (error: unknown) => scope.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
};
