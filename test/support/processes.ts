import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Sends the signal (to the whole process group) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited(): Promise<number | null>;
}

/** How long an exited process's output may take to arrive in full. */
const OUTPUT_DRAIN_MS = 2_000;

/** Starts a command in its own process group, collecting stdout and stderr together. */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // 'exit' can come before the last of the output has been read; checks on log lines right after it would flake. So
  // wait for 'close' (stdio drained) too, but not for ever: a grandchild that outlives the process keeps the pipes open.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      const drained = setTimeout(() => resolve(code), OUTPUT_DRAIN_MS);
      void closed.then(() => {
        clearTimeout(drained);
        resolve(code);
      });
    }),
  );
  return {
    child,
    output: () => output,
    exited: () => exit,
    stop: async (signal = 'SIGTERM', timeoutMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const signalGroup = (s: NodeJS.Signals) => {
        try {
          process.kill(-(child.pid as number), s);
        } catch {
          // Already gone between the check and the signal.
        }
      };
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls until the URL answers 200, or fails with the process output once the time is up or the process died. */
export async function waitForHttpOk(url: string, proc: RunningProcess, timeoutMs = 60_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`process exited with ${proc.child.exitCode} before ${url} was ready:\n${proc.output()}`);
    }
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === 200) return response;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${proc.output()}`);
}
