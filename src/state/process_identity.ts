/**
 * Who a process is, beyond its pid, and whether a recorded one still runs.
 *
 * A pid alone is not an identity: a container restarts its job as pid 1 every
 * time, and any host reuses pids. So a lock records the pid plus the
 * process's start time (field 22 of /proc/<pid>/stat, clock ticks since
 * boot), the kernel's boot id (/proc/sys/kernel/random/boot_id) and the host
 * name. Where /proc is absent (macOS, Windows) start time and boot id are
 * left out and the check falls back to the pid and the host.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** The identity of a process, as stored in a lock file. */
export interface ProcessIdentity {
  pid: number;
  hostname: string;
  /** Clock ticks after boot at which the process started (Linux only). */
  startTime?: string;
  /** The kernel's boot id (Linux only). */
  bootId?: string;
}

/** What a recorded identity is, seen from this process. */
export type HolderStatus =
  /** This very process (same pid, start time and boot). */
  | "this-process"
  /** Another process of this host that still runs. */
  | "alive"
  /** Gone: its pid is free or now belongs to another process, or the host rebooted since. */
  | "dead"
  /** On another host: cannot be checked from here. */
  | "other-host";

let current: ProcessIdentity | undefined;

/** This process's identity (computed once). */
export function currentProcess(): ProcessIdentity {
  if (current === undefined) {
    const startTime = processStartTime(process.pid);
    const bootId = readTrimmed("/proc/sys/kernel/random/boot_id");
    current = {
      pid: process.pid,
      hostname: hostname(),
      ...(startTime === undefined ? {} : { startTime }),
      ...(bootId === undefined ? {} : { bootId }),
    };
  }
  return current;
}

/**
 * Whether the process `holder` describes still runs. Fields a holder lacks
 * (an older lock, a system without /proc) are not compared.
 */
export function holderStatus(holder: ProcessIdentity, self: ProcessIdentity = currentProcess()): HolderStatus {
  if (holder.hostname !== self.hostname) return "other-host";
  if (holder.bootId !== undefined && self.bootId !== undefined && holder.bootId !== self.bootId) return "dead";
  if (holder.pid === self.pid) {
    if (holder.startTime !== undefined && self.startTime !== undefined && holder.startTime !== self.startTime) return "dead";
    return "this-process";
  }
  if (!pidExists(holder.pid)) return "dead";
  if (holder.startTime !== undefined) {
    const now = processStartTime(holder.pid);
    if (now !== undefined && now !== holder.startTime) return "dead"; // the pid was reused
  }
  return "alive";
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so parse after the last ")". */
function processStartTime(pid: number): string | undefined {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const value = fields[19]; // fields after the name start at field 3
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

function readTrimmed(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8").trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}
