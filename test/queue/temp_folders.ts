/** Temporary folders a test file made, removed in its `after`: `const dir = folders.track(await workflowFolder())`. */
import { rm } from "node:fs/promises";

export function tempFolders(): { track(dir: string): string; removeAll(): Promise<void> } {
  const dirs: string[] = [];
  return {
    track: (dir) => {
      dirs.push(dir);
      return dir;
    },
    removeAll: async () => {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}
