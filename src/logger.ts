/**
 * relearn is silent by default: messages go to a logger the caller passes
 * (console works as one). Warnings are things a user must know about, e.g. an
 * option that is ignored for a documented reason.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** The default: says nothing. */
export const silentLogger: Logger = { info: () => {}, warn: () => {} };
