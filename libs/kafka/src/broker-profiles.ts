import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The broker profiles in infra/kafka/config: what the local stack runs and what production clusters should run. */
export const BROKER_PROFILES = { local: 'server.properties', production: 'production.properties' } as const;
export type BrokerProfile = keyof typeof BROKER_PROFILES;

/**
 * Parses a Java .properties file as Kafka writes them (key=value lines, # or ! comments). Line continuations and
 * escapes are not supported: our profiles do not use them, and a line that is not key=value is refused, not guessed.
 */
export function parseProperties(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0 || line.endsWith('\\')) throw new Error(`line ${index + 1}: not key=value: ${line}`);
    const key = line.slice(0, eq).trim();
    if (entries.has(key)) throw new Error(`line ${index + 1}: ${key} is set twice`);
    entries.set(key, line.slice(eq + 1).trim());
  }
  return entries;
}

export async function readBrokerProfile(repoRoot: string, profile: BrokerProfile): Promise<Map<string, string>> {
  return parseProperties(await readFile(join(repoRoot, 'infra/kafka/config', BROKER_PROFILES[profile]), 'utf8'));
}
