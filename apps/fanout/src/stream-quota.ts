/**
 * Open event streams per workspace, capped: each stream holds a socket, a subscription and a queue in this process, so
 * one tenant opening thousands would starve the others. `acquire` returns the release of the slot, or undefined when
 * the workspace is at its cap; a cap of 0 means no cap.
 */
export class StreamQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerWorkspace: number) {}

  acquire(workspaceId: string): (() => void) | undefined {
    const held = this.open.get(workspaceId) ?? 0;
    if (this.maxPerWorkspace > 0 && held >= this.maxPerWorkspace) return undefined;
    this.open.set(workspaceId, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(workspaceId) ?? 1) - 1;
      if (left > 0) this.open.set(workspaceId, left);
      else this.open.delete(workspaceId);
    };
  }

  held(workspaceId: string): number {
    return this.open.get(workspaceId) ?? 0;
  }
}
