import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const exec = promisify(execFile);

/** A dependency of the platform that a test owns alone, so it can take it down without disturbing anyone else. */
export interface PrivateService {
  /** The name its check has in `/health` (DependencyChecks). */
  readonly check: 'postgres' | 'redis' | 'kafka' | 'schemaRegistry';
  /** The address the roles are given (a URL, or host:port for Kafka). */
  readonly address: string;
  /** Takes it down as the fault calls for: a crash (SIGKILL) or a stop. */
  down(): Promise<void>;
  /** Brings it back on the same address and with the same data; resolves once it answers. */
  up(): Promise<void>;
}
