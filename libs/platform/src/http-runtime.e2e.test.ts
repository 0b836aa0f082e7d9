import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, SAMPLE_DEFINITION } from '#test/support/app.js';
import { freePort, startProcess, waitForHttpOk, type RunningProcess } from '#test/support/processes.js';
import { socketOptionsOf, socketsOnPort } from './testing/server-sockets.js';

const ctx = useTestContext('http-runtime');

/**
 * The api app as its own process on a free port against this file's database and topics, with `env` on top; `wrapper`
 * runs it through another command (prlimit). Ready once /health answers 200 (over h2c when `h2c`).
 */
async function startApi(
  env: Record<string, string>,
  options: { h2c?: boolean; wrapper?: string[]; app?: 'api' | 'all-in-one' } = {},
): Promise<{ port: number; proc: RunningProcess }> {
  const port = await freePort();
  const entry = `dist/apps/${options.app ?? 'api'}/src/main.js`;
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, entry];
  const proc = startProcess(command, args, {
    ...process.env,
    PORT: String(port),
    DATABASE_URL: ctx.databaseUrl,
    KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
    LOG_LEVEL: 'info',
    ...env,
  });
  ctx.defer(() => proc.stop('SIGKILL'));
  if (!options.h2c) {
    await waitForHttpOk(`http://127.0.0.1:${port}/health`, proc);
    return { port, proc };
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await h2Get(port, '/health').then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { port, proc };
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`h2c api not ready:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** One request over HTTP/2 with prior knowledge (h2c), on a session of its own unless one is given. */
async function h2Get(port: number, path: string, session?: http2.ClientHttp2Session, payload?: unknown) {
  const own = session ?? http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<{ status: number; body: string }>((resolve, reject) => {
      own.once('error', reject);
      const stream = own.request({
        ':path': path,
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(payload === undefined ? {} : { ':method': 'POST', 'content-type': 'application/json' }),
      });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.once('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.once('end', () => resolve({ status, body }));
      stream.once('error', reject);
      stream.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
  } finally {
    if (!session) own.close();
  }
}

/** Opens an SSE stream over h2c and resolves with what arrived once `until` matches it; the stream stays open. */
function h2Stream(session: http2.ClientHttp2Session, path: string, until: RegExp) {
  return new Promise<{ status: number; text: string; stream: http2.ClientHttp2Stream }>((resolve, reject) => {
    const stream = session.request({
      ':path': path,
      authorization: `Bearer ${ADMIN_KEY}`,
      accept: 'text/event-stream',
    });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.once('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => {
      text += chunk;
      if (until.test(text)) resolve({ status, text, stream });
    });
    stream.once('error', reject);
    stream.once('end', () => reject(new Error(`stream ended: ${status} ${text}`)));
  });
}

/** One GET over HTTP/1.1 on `agent`: status, the answer's connection header, and the client's local port. */
function get(port: number, path: string, agent: http.Agent | false = false) {
  return new Promise<{ status: number; connection: string | undefined; localPort: number; body: string }>(
    (resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
        const localPort = response.socket.localPort as number;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, localPort, body }),
        );
      });
      request.once('error', reject);
    },
  );
}

/**
 * The API's side of the connection whose client end is `clientPort`. A client's connect() resolves once the kernel
 * has completed the handshake; until the server calls accept() the socket belongs to no process (`ss` shows no pid),
 * so this waits for that.
 */
async function serverSocketFor(port: number, clientPort: number) {
  let socket: ReturnType<typeof socketsOnPort>[number] | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    socket = socketsOnPort(port).find((s) => s.state === 'ESTAB' && s.peer.endsWith(`:${clientPort}`));
    if (socket?.fd !== undefined && socket.pids[0] !== undefined) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(socket?.fd !== undefined && socket.pids[0] !== undefined, `no server socket for client port ${clientPort}`);
  return { pid: socket.pids[0], fd: socket.fd, timer: socket.timer };
}

/** The peers of the port's established connections, as the server side sees them. */
const established = (port: number) => socketsOnPort(port).flatMap((s) => (s.state === 'ESTAB' ? [s.peer] : []));

/** A TCP connection to the port that sends nothing: its server side shows the options as they were on accept. */
async function idleConnection(port: number): Promise<Socket> {
  const socket = new Socket();
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', resolve);
  });
  return socket;
}

const logLines = (proc: RunningProcess) =>
  proc
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string } & Record<string, unknown>);

async function waitFor(condition: () => boolean, proc: RunningProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`gave up waiting:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const processExists = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('socket options on accepted connections', () => {
  it('sets TCP_NODELAY and SO_KEEPALIVE with its idle time by default, and one keep-alive connection serves many requests', async () => {
    const { port, proc } = await startApi({ HTTP_TCP_KEEPALIVE_DELAY_MS: '45000' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = new Set(established(port));
    try {
      const first = await get(port, '/health', agent);
      const second = await get(port, '/health', agent);
      assert.equal(first.status, 200);
      assert.equal(second.localPort, first.localPort, 'the second request went over the same connection');
      assert.notEqual(first.connection, 'close');
      const opened = established(port).filter((peer) => !before.has(peer));
      assert.deepEqual(opened, [`127.0.0.1:${first.localPort}`], 'the server holds one connection for both');

      const server = await serverSocketFor(port, first.localPort);
      assert.equal(server.pid, proc.child.pid);
      assert.deepEqual(socketOptionsOf(server.pid, server.fd), { noDelay: true, keepAlive: true, keepIdleS: 45 });
      // The kernel's keep-alive timer runs on the idle connection (ss -o; right after an answer the socket may still
      // show another timer for a moment).
      let timer = server.timer;
      for (let i = 0; i < 20 && !timer?.startsWith('keepalive,'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        timer = (await serverSocketFor(port, first.localPort)).timer;
      }
      assert.match(timer ?? '', /^keepalive,/);
    } finally {
      agent.destroy();
    }
    assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
  });

  it('leaves both off when told to, and closes each connection after its answer with HTTP keep-alive off', async () => {
    const { port, proc } = await startApi({
      HTTP_NO_DELAY: 'false',
      HTTP_TCP_KEEPALIVE: 'false',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '0',
    });
    const probe = await idleConnection(port);
    try {
      const server = await serverSocketFor(port, probe.localPort as number);
      const options = socketOptionsOf(server.pid, server.fd);
      assert.equal(options.noDelay, false);
      assert.equal(options.keepAlive, false);
      assert.doesNotMatch(server.timer ?? '', /keepalive/);
    } finally {
      probe.destroy();
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(port, '/health', agent);
      const second = await get(port, '/health', agent);
      assert.equal(first.status, 200);
      assert.equal(first.connection, 'close');
      assert.notEqual(second.localPort, first.localPort, 'each request needed a connection of its own');
    } finally {
      agent.destroy();
    }
    // The server itself ends the connection after the answer, also for a client that ignores `connection: close`.
    const raw = await idleConnection(port);
    try {
      let text = '';
      raw.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((resolve) => raw.once('end', resolve));
      raw.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('not closed')), 5_000))]);
      assert.match(text, /^HTTP\/1\.1 200 /);
    } finally {
      raw.destroy();
    }
    assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
  });
});

describe('h2c (HTTP_H2C=true)', () => {
  it('answers HTTP/2 prior-knowledge clients, does not speak HTTP/1.1, and stops cleanly with a session open', async () => {
    const { port, proc } = await startApi({ HTTP_H2C: 'true' }, { h2c: true });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const health = await h2Get(port, '/health', session);
      assert.equal(health.status, 200, health.body);
      const unknown = await h2Get(port, '/v1/workflows/00000000-0000-0000-0000-000000000000', session);
      assert.equal(unknown.status, 404, unknown.body);
      assert.match(unknown.body, /"type"/, 'problem+json over HTTP/2');
      const metrics = await h2Get(port, '/metrics', session);
      assert.match(metrics.body, /^orchestrator_role_up\{/m);
      // An HTTP/1.1 request gets no HTTP answer from an h2c-only server (documented: clients must use prior knowledge).
      await assert.rejects(get(port, '/health'));
      const server = await serverSocketFor(port, session.socket.localPort as number);
      assert.equal(socketOptionsOf(server.pid, server.fd).noDelay, true);
      assert.equal(socketOptionsOf(server.pid, server.fd).keepAlive, true);

      const started = Date.now();
      assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
      assert.ok(Date.now() - started < 8_000, 'the open session did not hold the shutdown up');
    } finally {
      session.destroy();
    }
  });

  it('works with several processes on one port', async () => {
    const { port, proc } = await startApi({ HTTP_H2C: 'true', HTTP_PROCESSES: '2' }, { h2c: true });
    await waitFor(() => logLines(proc).some((l) => l.msg === 'all API processes ready'), proc);
    assert.equal(socketsOnPort(port).filter((s) => s.state === 'LISTEN').length, 2);
    const metrics = await h2Get(port, '/metrics');
    assert.match(metrics.body, /^process_resident_memory_bytes\{.*process_index="1"/m);
    assert.equal(await stopParentOnly(proc), 0, proc.output());
  });

  it('serves the SSE streams over HTTP/2 in the all-in-one process and stops cleanly with one open', async () => {
    await createTopics(ctx);
    const { port, proc } = await startApi({ HTTP_H2C: 'true' }, { h2c: true, app: 'all-in-one' });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const created = await h2Get(port, '/v1/workflows', session, { name: 'h2c', definition: SAMPLE_DEFINITION });
      assert.equal(created.status, 201, created.body);
      const { id } = JSON.parse(created.body) as { id: string };
      const events = await h2Stream(session, `/v1/workflows/${id}/events`, /^id: 1$/m);
      assert.equal(events.status, 200);
      assert.match(events.text, /^retry: /m);
      // A client that leaves closes its stream only; the session serves the next request.
      events.stream.close();
      assert.equal((await h2Get(port, '/health', session)).status, 200);
      await h2Stream(session, `/v1/workflows/${id}/events`, /^id: 1$/m);

      const started = Date.now();
      assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
      assert.ok(Date.now() - started < 8_000, 'the open stream did not hold the shutdown up');
    } finally {
      session.destroy();
    }
  });
});

describe('several API processes on one port (HTTP_PROCESSES=2)', () => {
  it('listens twice on the port (SO_REUSEPORT), serves from both, merges /metrics, restarts one that dies, stops all on SIGTERM', async () => {
    const { port, proc } = await startApi({ HTTP_PROCESSES: '2' });
    // /health answered from the first process to be ready; the supervisor says when both are.
    await waitFor(() => logLines(proc).some((l) => l.msg === 'all API processes ready'), proc);
    const listeners = socketsOnPort(port).filter((s) => s.state === 'LISTEN');
    const listenerPids = listeners.flatMap((s) => s.pids);
    assert.equal(listeners.length, 2, JSON.stringify(listeners));
    assert.equal(new Set(listenerPids).size, 2);
    assert.ok(!listenerPids.includes(proc.child.pid as number), 'the supervisor itself does not listen');

    // 32 connections at once: the kernel hashes each to one of the two listeners (all on one: p = 2^-31). A process
    // just started may answer 503 until its Redis client has connected, so this repeats until all are 200.
    let answers: Awaited<ReturnType<typeof get>>[] = [];
    let servingPids = new Set<number>();
    for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
      try {
        answers = await Promise.all(Array.from({ length: 32 }, () => get(port, '/health', agent)));
        servingPids = new Set(
          (await Promise.all(answers.map((a) => serverSocketFor(port, a.localPort)))).map((s) => s.pid),
        );
      } finally {
        agent.destroy();
      }
      if (answers.every((a) => a.status === 200)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual(
      answers.filter((a) => a.status !== 200),
      [],
    );
    assert.deepEqual([...servingPids].sort(), [...new Set(listenerPids)].sort());

    const metrics = (await get(port, '/metrics')).body;
    assert.match(metrics, /^process_resident_memory_bytes\{.*process_index="0"/m);
    assert.match(metrics, /^process_resident_memory_bytes\{.*process_index="1"/m);
    assert.equal(metrics.match(/^# TYPE process_resident_memory_bytes gauge$/gm)?.length, 1);

    // One that dies is started again: two listeners on the port, one of them a new process.
    const [victim] = listenerPids as [number];
    process.kill(victim, 'SIGKILL');
    let now: number[] = [];
    await waitFor(() => {
      now = socketsOnPort(port).flatMap((s) => (s.state === 'LISTEN' ? s.pids : []));
      return now.length === 2 && !now.includes(victim);
    }, proc);
    assert.ok(logLines(proc).some((l) => l.msg === 'an API process died; starting it again'));

    assert.equal(await stopParentOnly(proc), 0, proc.output());
    for (const pid of [...listenerPids, ...now]) {
      assert.equal(processExists(pid), false, `process ${pid} is still running`);
    }
    assert.equal(
      logLines(proc).filter((l) => l.msg === 'stopped').length,
      3,
      'two API processes and their supervisor stopped cleanly',
    );
  });

  it('refuses HTTP_PROCESSES for a process that also runs Kafka consumers (all-in-one)', async () => {
    const proc = startProcess(process.execPath, ['dist/apps/all-in-one/src/main.js'], {
      ...process.env,
      PORT: String(await freePort()),
      HTTP_PROCESSES: '2',
    });
    ctx.defer(() => proc.stop('SIGKILL'));
    assert.equal(await proc.exited(), 1);
    assert.match(proc.output(), /HTTP_PROCESSES: 2 applies to the api role run alone/);
  });
});

/** SIGTERM to the supervisor only (as `kill <pid>` would), not to its process group: it must pass it on. */
async function stopParentOnly(proc: RunningProcess): Promise<number | null> {
  proc.child.kill('SIGTERM');
  return proc.exited();
}

describe('open-file limit check', () => {
  it('warns at start-up, naming the limit and how to raise it, when the limit is below FD_LIMIT_MIN', async () => {
    const { proc } = await startApi({}, { wrapper: ['prlimit', '--nofile=1024:1024'] });
    const warning = logLines(proc).find((l) => l.msg.includes('open-file limit'));
    assert.ok(warning, proc.output());
    assert.equal(warning.level, 'warn');
    assert.equal(warning.openFilesLimit, 1024);
    assert.match(warning.msg, /LimitNOFILE=65536/);
    assert.equal(await proc.stop('SIGTERM'), 0);
  });

  it('says nothing when the limit meets FD_LIMIT_MIN', async () => {
    const { proc } = await startApi({ FD_LIMIT_MIN: '1024' }, { wrapper: ['prlimit', '--nofile=1024:1024'] });
    assert.equal(
      logLines(proc).some((l) => l.msg.includes('open-file limit')),
      false,
    );
    assert.equal(await proc.stop('SIGTERM'), 0);
  });
});
