import { InvalidArgumentError, Option, type Command } from 'commander';
import { apiClient, call } from './api-client.js';
import { api, withApiOptions } from './api.command.js';
import { json, out, table } from './cli-support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const NODE_TYPES = ['function', 'http_request', 'agent'];

/** `--workspace`: a workspace id (a uuid). */
export function parseWorkspace(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`--workspace must be a workspace id (a uuid), not "${value}"`);
  return value.toLowerCase();
}

/** `--since`: an ISO 8601 time, or a duration back from `now` (90m, 24h, 7d). */
export function parseSince(value: string, now: number = Date.now()): string {
  const duration = DURATION.exec(value);
  if (duration) return new Date(now - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]).toISOString();
  const at = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at)) {
    throw new InvalidArgumentError(
      `--since must be an ISO 8601 time (2026-12-01T00:00:00Z) or a duration back from now (90m, 24h, 7d), not "${value}"`,
    );
  }
  return new Date(at).toISOString();
}

interface HitRate {
  hitRate: number | null;
}

const rate = (r: HitRate): string | null => (r.hitRate === null ? null : `${(r.hitRate * 100).toFixed(1)}%`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** `orchestrator cache stats|purge`: what the node result cache earns a workspace, and emptying it (through the API). */
export function registerCache(program: Command): void {
  const cache = program.command('cache').description('the node result cache of the API key’s workspace');
  withApiOptions(
    cache
      .command('stats')
      .description('lookups, hits, hit rate, time and estimated cost saved (per node type)')
      .option('--workspace <id>', "the workspace (must be the API key's own)", parseWorkspace)
      .option('--since <when>', 'ISO 8601 time or a duration back from now (90m, 24h, 7d); default 24h', (v) =>
        parseSince(v),
      )
      .option('--json', 'one JSON line'),
  ).action(async (options: { apiUrl: string; apiKey?: string; workspace?: string; since?: string; json?: boolean }) => {
    const query = { workspaceId: options.workspace, since: options.since };
    const stats = await call(api(options), apiClient(api(options)).GET('/v1/cache/stats', { params: { query } }));
    if (options.json) return out(json(stats));
    out(`workspace ${stats.workspaceId}, ${stats.since} to ${stats.until}`);
    out(
      `lookups ${stats.lookups ?? '- (cache unavailable)'}, hits ${stats.hits}, misses ${stats.misses ?? '-'}, ` +
        `hit rate ${rate(stats) ?? '-'}, time saved ${seconds(stats.savedMs)}, ` +
        `tokens saved ${stats.tokensSaved.prompt} prompt + ${stats.tokensSaved.completion} completion, ` +
        `estimated cost saved ${stats.estimatedCostSaved.toFixed(4)}` +
        (stats.unpricedModels.length ? ` (no price for ${stats.unpricedModels.join(', ')})` : ''),
    );
    for (const line of table(
      ['NODE TYPE', 'LOOKUPS', 'HITS', 'MISSES', 'HIT RATE', 'SAVED'],
      stats.byNodeType.map((t) => [t.nodeType, t.lookups, t.hits, t.misses, rate(t), seconds(t.savedMs)]),
    )) {
      out(line);
    }
  });
  withApiOptions(
    cache
      .command('purge')
      .description("delete a workspace's cached node results, or one node type's (needs an admin key)")
      .requiredOption('--workspace <id>', "the workspace (must be the API key's own)", parseWorkspace)
      .addOption(new Option('--node-type <type>', 'only entries of this node type').choices(NODE_TYPES))
      .option('--json', 'one JSON line'),
  ).action(
    async (options: { apiUrl: string; apiKey?: string; workspace: string; nodeType?: string; json?: boolean }) => {
      const query = {
        workspaceId: options.workspace,
        nodeType: options.nodeType as 'function' | 'http_request' | 'agent' | undefined,
      };
      const result = await call(
        api(options),
        apiClient(api(options)).DELETE('/v1/cache/entries', { params: { query } }),
      );
      if (options.json) return out(json(result));
      // The semantic cache's share, where the API purged it too (it is on there).
      const semantic = typeof result.semantic === 'number' ? ` (${result.semantic} from the semantic cache)` : '';
      out(
        `deleted ${result.deleted} cached ${options.nodeType ?? 'node'} results of workspace ${options.workspace}${semantic}`,
      );
    },
  );
}
