import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { followEventStream, StreamLost, StreamRefused, type components } from '#libs/api-client';
import { isTerminal, isTerminalRunEvent } from '#libs/runs';
import { apiClient, call, openStream, problemError, type ApiOptions } from './api-client.js';
import { CliError, EXIT, json, out, progress } from './cli-support.js';

/** The options every API command takes; read from the command's own options. */
export function withApiOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--api-url <url>', 'the orchestrator API')
        .env('ORCHESTRATOR_API_URL')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(new Option('--api-key <key>', 'API key (Bearer)').env('ORCHESTRATOR_API_KEY'));
}

export const api = (options: { apiUrl: string; apiKey?: string }): ApiOptions => ({
  apiUrl: options.apiUrl,
  ...(options.apiKey ? { apiKey: options.apiKey } : {}),
});

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, EXIT.usage);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${file} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

function parseJsonOption(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${name} is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

type ApiOpts = { apiUrl: string; apiKey?: string; json?: boolean };

/** Prints a JSON answer: as one line with --json, indented otherwise. */
const show = (value: unknown, options: { json?: boolean }) =>
  out(options.json ? json(value) : JSON.stringify(value, null, 2));

export function registerApiCommands(program: Command): void {
  const workflow = program.command('workflow').description('workflow definitions, through the HTTP API');
  withApiOptions(
    workflow
      .command('create')
      .description('create a workflow from a definition file ({nodes, edges})')
      .requiredOption('--name <name>', 'workflow name')
      .requiredOption('--file <definition.json>', 'the definition'),
  )
    .option('--json', 'one JSON line')
    .action(async (options: ApiOpts & { name: string; file: string }) => {
      const definition = await readJsonFile(options.file);
      const client = apiClient(api(options));
      // The file is checked by the API, which names what is wrong with it.
      const body = { name: options.name, definition: definition as components['schemas']['WorkflowDefinition'] };
      show(await call(api(options), client.POST('/v1/workflows', { body })), options);
    });
  withApiOptions(
    workflow
      .command('show')
      .description('the latest materialized version (or --version N)')
      .argument('<id>', 'workflow id')
      .option('--version <n>', 'this version instead of the latest'),
  )
    .option('--json', 'one JSON line')
    .action(async (id: string, options: ApiOpts & { version?: string }) => {
      const client = apiClient(api(options));
      const request = options.version
        ? client.GET('/v1/workflows/{id}/versions/{version}', {
            params: { path: { id, version: Number(options.version) } },
          })
        : client.GET('/v1/workflows/{id}', { params: { path: { id } } });
      show(await call(api(options), request), options);
    });
  withApiOptions(
    workflow
      .command('patch')
      .description('submit RFC 6902 ops ([...] or {ops: [...]}) as a patch; prints {patchId, seq, status}')
      .argument('<id>', 'workflow id')
      .requiredOption('--file <ops.json>', 'the ops')
      .option('--idempotency-key <key>', 'retry-safe key')
      .option('--wait', 'wait until the patch is applied or rejected (exit 1 if rejected)'),
  )
    .option('--json', 'one JSON line')
    .action(async (id: string, options: ApiOpts & { file: string; idempotencyKey?: string; wait?: boolean }) => {
      const content = await readJsonFile(options.file);
      const ops = Array.isArray(content) ? content : (content as { ops?: unknown }).ops;
      if (!Array.isArray(ops))
        throw new CliError(`${options.file} holds neither an array of ops nor {ops: [...]}`, EXIT.usage);
      const client = apiClient(api(options));
      const accepted = await call(
        api(options),
        client.POST('/v1/workflows/{id}/patches', {
          params: { path: { id }, header: { 'idempotency-key': options.idempotencyKey } },
          body: { ops: ops as components['schemas']['PatchOperations'] },
        }),
      );
      if (!options.wait) return show(accepted, options);
      progress(`patch ${accepted.patchId} accepted; waiting for it to be applied...`);
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        const state = await call(
          api(options),
          client.GET('/v1/workflows/{id}/patches/{patchId}', { params: { path: { id, patchId: accepted.patchId } } }),
        );
        if (state.status !== 'pending') {
          show({ ...accepted, ...state }, options);
          if (state.status === 'rejected') process.exitCode = EXIT.failed;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new CliError(`patch ${accepted.patchId} still pending after 60 s`);
    });
  withApiOptions(
    workflow
      .command('history')
      .description('every patch of a workflow, oldest first, with its status')
      .argument('<id>', 'workflow id'),
  )
    .option('--json', 'one JSON line')
    .action(async (id: string, options: ApiOpts) => {
      const client = apiClient(api(options));
      const patches: unknown[] = [];
      for (let after = 0; ;) {
        const page = await call(
          api(options),
          client.GET('/v1/workflows/{id}/patches', { params: { path: { id }, query: { after, limit: 1000 } } }),
        );
        patches.push(...page.patches);
        const last = page.patches.at(-1);
        if (!page.next || !last) break;
        after = last.seq;
      }
      show(patches, options);
    });

  const run = program.command('run').description('workflow runs, through the HTTP API');
  withApiOptions(
    run
      .command('start')
      .description('start a run of the latest version; prints {runId, workflowVersion}')
      .argument('<workflowId>', 'workflow id')
      .option('--input <json>', 'run input', '{}')
      .option('--idempotency-key <key>', 'retry-safe key'),
  )
    .option('--json', 'one JSON line')
    .action(async (workflowId: string, options: ApiOpts & { input: string; idempotencyKey?: string }) => {
      const input = parseJsonOption('--input', options.input);
      const client = apiClient(api(options));
      const request = client.POST('/v1/workflows/{id}/runs', {
        params: { path: { id: workflowId }, header: { 'idempotency-key': options.idempotencyKey } },
        body: { input },
      });
      show(await call(api(options), request), options);
    });
  withApiOptions(run.command('show').description('status, nodes and output of a run').argument('<id>', 'run id'))
    .option('--json', 'one JSON line')
    .action(async (id: string, options: ApiOpts) => {
      show(
        await call(api(options), apiClient(api(options)).GET('/v1/runs/{id}', { params: { path: { id } } })),
        options,
      );
    });
  withApiOptions(
    run
      .command('watch')
      .description('follow the run event stream (SSE) as JSON lines until the run ends; exit 1 if it did not complete')
      .argument('<id>', 'run id')
      .option('--last-event-id <id>', 'resume after this event'),
  ).action(async (id: string, options: ApiOpts & { lastEventId?: string }) => {
    const path = `/v1/runs/${encodeURIComponent(id)}/events`;
    // Resumes after a cut with the last id seen, as a browser's EventSource would; the run's last event ends it.
    const events = followEventStream({
      open: (lastEventId, signal) => openStream(api(options), path, lastEventId, signal),
      lastEventId: options.lastEventId,
      isLast: (event) => isTerminalRunEvent(event.event),
      onReconnect: ({ attempt, lastEventId }) =>
        progress(`the event stream dropped; resuming after event ${lastEventId ?? 'none'} (attempt ${attempt})`),
    });
    try {
      for await (const event of events) {
        let data: unknown = event.data;
        try {
          data = JSON.parse(event.data) as unknown;
        } catch {
          // Not JSON: printed as the text it is.
        }
        out(json({ id: event.id ?? null, event: event.event, data }));
      }
    } catch (error) {
      if (error instanceof StreamRefused) {
        throw problemError(error.response.status, await error.response.json().catch(() => undefined));
      }
      if (error instanceof StreamLost) throw new CliError(`${error.message} (run ${id})`);
      throw error;
    }
    const state = await call(api(options), apiClient(api(options)).GET('/v1/runs/{id}', { params: { path: { id } } }));
    progress(`run ${id}: ${state.status}`);
    if (!isTerminal(state.status)) throw new CliError(`the event stream closed while run ${id} is ${state.status}`);
    if (state.status !== 'completed') process.exitCode = EXIT.failed;
  });

  const apiKey = program.command('api-key').description("API keys of the caller's workspace (needs an admin key)");
  withApiOptions(
    apiKey
      .command('create')
      .description('create a key; the key is shown once')
      .addOption(
        new Option('--permission <level>', 'read, write or admin')
          .choices(['read', 'write', 'admin'])
          .makeOptionMandatory(),
      )
      .option('--label <label>', 'a name for the key (hitl approvers may name it)'),
  )
    .option('--json', 'one JSON line')
    .action(async (options: ApiOpts & { permission: string; label?: string }) => {
      const permission = options.permission as 'read' | 'write' | 'admin';
      const body = { permission, ...(options.label ? { label: options.label } : {}) };
      show(await call(api(options), apiClient(api(options)).POST('/v1/api-keys', { body })), options);
    });
  withApiOptions(apiKey.command('list').description('every key of the workspace: id, permission, prefix, revokedAt'))
    .option('--json', 'one JSON line')
    .action(async (options: ApiOpts) => {
      show((await call(api(options), apiClient(api(options)).GET('/v1/api-keys'))).keys, options);
    });
  withApiOptions(
    apiKey.command('revoke').description('revoke a key (not the one making the call)').argument('<id>', 'key id'),
  )
    .option('--json', 'one JSON line')
    .action(async (id: string, options: ApiOpts) => {
      await call(api(options), apiClient(api(options)).DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
      show({ id, revoked: true }, options);
    });
}
