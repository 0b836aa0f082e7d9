import { ADMIN_KEY } from '../app.js';

/** A POST attempt the API did not accept: its status, or how the connection failed. */
export interface Refusal {
  readonly at: number;
  readonly what: 'run' | 'patch';
  readonly status: number | 'network' | 'timeout';
}

export interface AcceptedRun {
  readonly id: string;
  readonly kind: 'chain' | 'delay';
  readonly x: number;
  readonly at: number;
}

export interface AcceptedPatch {
  readonly id: string;
  readonly workflow: string;
  /** The node the patch adds; its presence in the final definition, once, is the patch's effect. */
  readonly node: string;
  readonly at: number;
}

export interface LoadWorkflows {
  /** a → b → c, output {c: (x + 1) * 2}. */
  readonly chain: string;
  /** A short delay then a function, output {after: x}: a run that waits on a timer. */
  readonly delay: string;
  /**
   * The workflows the patches go to, in turn: each patch adds a node, and one workflow would reach the definition's
   * node limit under a long load.
   */
  readonly patched: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs and patches posted together at a steady pace, as clients would: a POST that is refused (5xx, connection
 * failure, timeout) is retried with the same Idempotency-Key, backing off, until it is accepted, so every request
 * of the load ends accepted exactly once and each refusal is recorded with its status and time.
 */
const fn = (expression: string) => ({ type: 'function', config: { expression } });

/**
 * The workflows a MixedLoad runs and patches (loadAnomalies expects their outputs): a 3-node chain, a 300 ms delay
 * before a node, and a one-node workflow for the patches.
 */
export const LOAD_DEFINITIONS = {
  chain: {
    nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
    edges: [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
    ],
  },
  delay: {
    nodes: { wait: { type: 'delay', config: { ms: 300 } }, after: fn('input.x') },
    edges: [{ from: 'wait', to: 'after' }],
  },
  patched: { nodes: { root: fn('1') }, edges: [] },
} as const;

/** Creates a workflow through the API with the admin key; its id. */
export async function createLoadWorkflow(baseUrl: string, definition: unknown, name = 'load'): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/workflows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, definition }),
  });
  const body = (await response.json()) as { id: string };
  if (response.status !== 201) throw new Error(`creating a workflow: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

export class MixedLoad {
  readonly runs: AcceptedRun[] = [];
  readonly patches: AcceptedPatch[] = [];
  readonly refusals: Refusal[] = [];
  /** A 4xx is a bug, not a fault: the test fails with it. */
  readonly rejections: string[] = [];
  private stopping = false;
  private abandoned = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly workflows: LoadWorkflows,
    /** Makes idempotency keys and patch nodes unique across loads on the same database. */
    private readonly tag: string,
  ) {}

  /** Every `stepMs`: one chain run, every other step a delay run, and a patch. */
  start(stepMs = 150): void {
    this.loop = (async () => {
      for (let i = 0; !this.stopping; i++) {
        this.spawn(this.postRun(i % 2 === 0 ? 'chain' : 'delay', i));
        this.spawn(this.postPatch(i));
        await sleep(stepMs);
      }
    })();
  }

  /** Stops issuing new requests and waits until every one issued has been accepted. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Stops issuing and retrying (a failed test's clean-up): what is still refused stays unaccepted. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.stop();
  }

  private spawn(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async postRun(kind: 'chain' | 'delay', x: number): Promise<void> {
    const workflow = kind === 'chain' ? this.workflows.chain : this.workflows.delay;
    const body = await this.post('run', `/v1/workflows/${workflow}/runs`, { input: { x } }, `${this.tag}-run-${x}`);
    if (body) this.runs.push({ id: (body as { runId: string }).runId, kind, x, at: Date.now() });
  }

  private async postPatch(i: number): Promise<void> {
    const node = `${this.tag}_p${i}`;
    const workflow = this.workflows.patched[i % this.workflows.patched.length] as string;
    const ops = [{ op: 'add', path: `/nodes/${node}`, value: { type: 'function', config: { expression: String(i) } } }];
    const body = await this.post('patch', `/v1/workflows/${workflow}/patches`, { ops }, `${this.tag}-patch-${i}`);
    if (body) this.patches.push({ id: (body as { patchId: string }).patchId, workflow, node, at: Date.now() });
  }

  private async post(what: 'run' | 'patch', path: string, body: unknown, key: string): Promise<unknown> {
    for (let attempt = 0; !this.abandoned; attempt++) {
      let status: Refusal['status'];
      try {
        const response = await fetch(`${this.baseUrl}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (response.status === 202) return JSON.parse(text) as unknown;
        if (response.status < 500) {
          this.rejections.push(`${what} ${path}: ${response.status} ${text}`);
          return undefined;
        }
        status = response.status;
      } catch (error) {
        status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
      }
      this.refusals.push({ at: Date.now(), what, status });
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
    return undefined;
  }
}
