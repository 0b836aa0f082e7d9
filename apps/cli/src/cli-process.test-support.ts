import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from '#test/harness/test-context.js';
import { REPO_ROOT } from '#test/support/processes.js';

export const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment pointing the CLI at a test file's own database and topics. */
export const cliEnv = (ctx: TestContext, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  DATABASE_URL: ctx.databaseUrl,
  KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
  KAFKA_PARTITIONS: String(ctx.config.KAFKA_PARTITIONS),
  ...extra,
});

/** Runs the real binary (as `node dist/apps/cli/src/main.js`) to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return runCommand(process.execPath, [CLI_MAIN, ...args], env, timeoutMs);
}

export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
