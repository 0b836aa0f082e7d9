import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** Where `host apply` keeps the values it replaced, for `host rollback`. */
export const DEFAULT_STATE_FILE = '/var/lib/orchestrator/host-tuning/previous.json';

const savedStateSchema = z.object({
  version: z.literal(1),
  savedAt: z.string(),
  settings: z.array(z.object({ key: z.string(), path: z.string(), previous: z.string() })),
});

/** Absolute paths, so a rollback restores exactly the files the apply wrote, whatever roots it was given. */
export type SavedState = z.infer<typeof savedStateSchema>;

export class StateFileExists extends Error {
  override readonly name = 'StateFileExists';
  constructor(readonly file: string) {
    super(`${file} already holds values saved by an earlier apply`);
  }
}

export class StateFileInvalid extends Error {
  override readonly name = 'StateFileInvalid';
}

/**
 * Writes the state in full or not at all: a temporary file beside it, flushed, then linked (which fails if the state
 * file exists, so a second apply cannot replace the original values) or renamed over it when `overwrite` is asked.
 */
export async function saveState(file: string, state: SavedState, overwrite: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (overwrite) return await rename(temporary, file);
    await link(temporary, file).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? new StateFileExists(file) : error;
    });
  } finally {
    await rm(temporary, { force: true });
  }
}

/** The saved state, or null when there is none. */
export async function loadState(file: string): Promise<SavedState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StateFileInvalid(`${file} is not JSON: ${(error as Error).message}`);
  }
  const result = savedStateSchema.safeParse(parsed);
  if (!result.success) throw new StateFileInvalid(`${file} is not a saved host-tuning state: ${result.error.message}`);
  return result.data;
}

export const removeState = (file: string): Promise<void> => rm(file, { force: true });
