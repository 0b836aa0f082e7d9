import { pino, type Logger } from 'pino';

/** Progress goes to stderr, so stdout holds only the report (its last line is the JSON summary). */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** For the clients the benchmark itself opens (kafkajs, the relay): warnings and errors only, on stderr. */
export const benchLogger: Logger = pino({ level: 'warn', base: { component: 'bench' } }, pino.destination(2));
