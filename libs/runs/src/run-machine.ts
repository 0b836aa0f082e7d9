import { ExpressionError, ExpressionLimitError } from '#libs/expressions';
import type { NodeDefinition, WorkflowDefinition } from '#libs/workflows';
import { retryDelayMs } from './retry-backoff.js';
import {
  isTerminal,
  tokensSpent,
  type Effect,
  type NodeState,
  type RunInput,
  type RunState,
  type TerminalRunStatus,
} from './run-state.js';

export interface MachineContext {
  readonly definition: WorkflowDefinition;
  /** The run's input, as given to POST /runs. */
  readonly input: unknown;
  readonly now: number;
  readonly random: () => number;
  /**
   * Evaluates an edge's `when` (JSONata) over `{input, nodes}`. An ExpressionError counts as not satisfied; an
   * ExpressionLimitError fails the run (a limit depends on the machine's load, so it must not pick a branch); any other
   * error is the evaluator's own trouble and propagates, so the input is applied again later.
   */
  readonly evaluate: (expression: string, data: ExpressionData) => Promise<unknown>;
  /**
   * The run timeout, for its message. It needs no timer row: the coordinators sweep unfinished runs past it (a
   * timer per run would cost two writes per run for an event that almost never happens).
   */
  readonly runTimeoutMs: number | null;
}

/** What JSONata expressions see: the run input and every finished node's output (content refs as `{$ref}`). */
export interface ExpressionData {
  input: unknown;
  nodes: Record<string, unknown>;
}

export interface Transition {
  readonly state: RunState;
  readonly effects: readonly Effect[];
}

/**
 * The run state machine: pure, deterministic given its context (time, randomness and expression evaluation are
 * injected), and the only place that decides what a run does next. The coordinator feeds it Kafka events and stores
 * what it returns; tests feed it events directly.
 */
/** A run accepted but not started: every node pending. A cancel or timeout may still end it before it starts. */
export function initialState(definition: WorkflowDefinition): RunState {
  return {
    status: 'pending',
    nodes: Object.fromEntries(Object.keys(definition.nodes).map((id) => [id, { status: 'pending', attempts: 0 }])),
    eventSeq: 0,
    edges: {},
  };
}

/** Starts a pending run: its entry nodes become ready. A run that already started or ended is left as it is. */
export async function startRun(current: RunState, ctx: MachineContext, requestedAt: number): Promise<Transition> {
  if (current.status !== 'pending' || current.eventSeq > 0) return { state: current, effects: [] };
  const step = new Step(current, ctx);
  step.state.status = 'running';
  step.event('run.started', 'running', undefined, { nodes: Object.keys(ctx.definition.nodes).length });
  await step.failingOnEdges(() => step.advance('start', requestedAt));
  return step.result();
}

export async function applyInput(current: RunState, input: RunInput, ctx: MachineContext): Promise<Transition> {
  if (isTerminal(current.status)) return { state: current, effects: [] };
  const step = new Step(current, ctx);
  await step.failingOnEdges(() => step.apply(input));
  return step.result();
}

const ACTIVE = new Set(['running', 'waiting']);

/**
 * One transition. It copies on write: the new state shares with the one it was given every node it leaves as it was
 * (and every output), so a transition costs what it changes, not what the run holds; a deep copy per input made a
 * run with large outputs quadratic in them. The state it was given is never changed.
 */
class Step {
  readonly effects: Effect[] = [];
  readonly state: RunState;
  /** The nodes of the state this step was given: a node still the same object is not yet this step's copy. */
  private readonly given: RunState['nodes'];

  constructor(
    current: RunState,
    private readonly ctx: MachineContext,
  ) {
    this.given = current.nodes;
    this.state = { ...current, nodes: { ...current.nodes }, edges: { ...current.edges } };
  }

  /** The node as this step may change it: its own copy, made on first use. */
  private writable(nodeId: string): NodeState {
    const node = this.state.nodes[nodeId] as NodeState;
    if (node !== this.given[nodeId]) return node;
    const copy = { ...node };
    this.state.nodes[nodeId] = copy;
    return copy;
  }

  result(): Transition {
    return { state: this.state, effects: this.effects };
  }

  event(kind: string, status: string, nodeId?: string, detail?: Record<string, unknown>): number {
    const seq = ++this.state.eventSeq;
    this.effects.push({
      type: 'event',
      seq,
      kind,
      status,
      ...(nodeId === undefined ? {} : { nodeId }),
      ...(detail ? { detail } : {}),
    });
    return seq;
  }

  /** Runs `work`; an edge condition stopped at a limit ends the run as failed, naming the edge and the error. */
  async failingOnEdges(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof EdgeFailed)) throw error;
      await this.finish('failed', error.message);
    }
  }

  async apply(input: RunInput): Promise<void> {
    switch (input.kind) {
      case 'completed':
        return this.completed(input);
      case 'timer':
        return this.timer(input.timer, input.nodeId, input.attempt);
      case 'cancel':
        return this.finish('cancelled', input.reason ?? 'cancelled on request');
      case 'poison':
        return this.finish('failed', input.reason);
      default: {
        const unknownInput: never = input;
        throw new Error(`unknown run input ${JSON.stringify(unknownInput)}`);
      }
    }
  }

  /** A completion counts only for the attempt in flight: a redelivered or late one changes nothing. */
  private async completed(input: Extract<RunInput, { kind: 'completed' }>): Promise<void> {
    const current = this.state.nodes[input.nodeId];
    if (!current || current.attempts !== input.attempt || !ACTIVE.has(current.status)) return;
    const def = this.def(input.nodeId);
    if (def.timeoutMs) this.effects.push({ type: 'clear_timer', key: timeoutKey(input.nodeId, input.attempt) });
    if (!input.succeeded) return this.failed(input.nodeId, input.error ?? 'failed', input.timedOut === true, input.at);
    const node = this.writable(input.nodeId);
    node.status = 'succeeded';
    delete node.error;
    if (input.outputRef) node.outputRef = input.outputRef;
    else node.output = input.output ?? null;
    if (input.cached) {
      const { fromRunId, fromNodeId, producedAt, durationMs, match, similarity } = input.cached;
      node.cached = {
        fromRunId,
        fromNodeId,
        producedAt: new Date(producedAt).toISOString(),
        savedMs: durationMs,
        match: match === 'semantic' ? 'semantic' : 'exact',
        ...(match === 'semantic' && typeof similarity === 'number' ? { similarity } : {}),
      };
      // The output is the producing attempt's: the tokens it records are the ones this hit did not spend. (An output
      // stored by reference is not read here; its hit saves time but no counted tokens.)
      const tokens = def.type === 'agent' && !input.outputRef ? tokensSpent(input.output) : undefined;
      this.event('node.completed', 'succeeded', input.nodeId, {
        attempt: input.attempt,
        cached: true,
        fromRunId,
        fromNodeId,
        producedAt: node.cached.producedAt,
        match: node.cached.match,
        ...(node.cached.similarity === undefined ? {} : { similarity: node.cached.similarity }),
      });
      this.effects.push({
        type: 'cache_hit',
        nodeId: input.nodeId,
        nodeType: def.type,
        attempt: input.attempt,
        ...node.cached,
        ...(tokens ? { tokens } : {}),
      });
    } else {
      this.event('node.completed', 'succeeded', input.nodeId, { attempt: input.attempt });
    }
    await this.advance(def.type, input.at);
  }

  private async timer(kind: string, nodeId?: string, attempt?: number): Promise<void> {
    if (kind === 'run_timeout') {
      const limit = this.ctx.runTimeoutMs === null ? '' : ` after ${this.ctx.runTimeoutMs} ms`;
      return this.finish('timed_out', `run timed out${limit}`);
    }
    const node = nodeId === undefined ? undefined : this.state.nodes[nodeId];
    if (!node || nodeId === undefined || attempt === undefined) return;
    const def = this.def(nodeId);
    if (kind === 'retry') {
      if (node.status !== 'pending' || node.attempts !== attempt - 1) return;
      this.startAttempt(nodeId, attempt, def.type, this.ctx.now);
      return this.refreshStatus();
    }
    if (node.attempts !== attempt || !ACTIVE.has(node.status)) return;
    if (kind === 'delay') {
      const delayed = this.writable(nodeId);
      delayed.status = 'succeeded';
      delayed.output = { delayedMs: (def.config as { ms: number }).ms };
      this.event('node.completed', 'succeeded', nodeId, { attempt });
      return this.advance('delay', this.ctx.now);
    }
    if (kind === 'node_timeout') {
      if (def.type === 'hitl') this.effects.push({ type: 'expire_approvals', nodeId, attempt });
      return this.failed(nodeId, `timed out after ${def.timeoutMs ?? 0} ms (attempt ${attempt})`, true, this.ctx.now);
    }
  }

  /** A failed attempt: retry after a backoff while the node's policy allows, else the run fails. */
  private async failed(nodeId: string, error: string, timedOut: boolean, at: number): Promise<void> {
    const node = this.writable(nodeId);
    const def = this.def(nodeId);
    const maxAttempts = def.retry?.maxAttempts ?? 1;
    node.error = error;
    if (node.attempts < maxAttempts) {
      const next = node.attempts + 1;
      const delay = retryDelayMs(def.retry?.backoffMs ?? 0, next, this.ctx.random);
      node.status = 'pending';
      this.event('node.retrying', timedOut ? 'timed_out' : 'failed', nodeId, {
        attempt: node.attempts,
        error,
        nextAttempt: next,
        retryInMs: delay,
      });
      if (delay === 0) this.startAttempt(nodeId, next, def.type, at);
      else {
        node.retryAt = this.ctx.now + delay;
        this.effects.push({
          type: 'set_timer',
          key: `retry:${nodeId}:${next}`,
          kind: 'retry',
          fireAt: node.retryAt,
          nodeId,
          attempt: next,
        });
      }
      return this.refreshStatus();
    }
    node.status = timedOut ? 'timed_out' : 'failed';
    this.event('node.failed', node.status, nodeId, { attempt: node.attempts, error });
    await this.finish('failed', `node ${nodeId} ${timedOut ? 'timed out' : 'failed'}: ${error}`);
  }

  /**
   * Skips and starts whatever the last change made decidable, until nothing changes, then settles the run. A node is
   * decided once every incoming edge is: it runs if at least one is satisfied (its source succeeded and its `when`
   * holds), and is skipped if none is, which in turn decides the edges leaving it.
   */
  async advance(fromType: string, triggeredAt: number): Promise<void> {
    let changed = true;
    while (changed) {
      changed = false;
      for (const [nodeId, node] of Object.entries(this.state.nodes)) {
        if (node.status !== 'pending' || node.attempts > 0) continue;
        const verdict = await this.incoming(nodeId);
        if (verdict === 'undecided') continue;
        changed = true;
        if (verdict === 'skip') {
          this.writable(nodeId).status = 'skipped';
          this.event('node.skipped', 'skipped', nodeId);
        } else {
          this.startAttempt(nodeId, 1, fromType, triggeredAt);
        }
      }
    }
    if (Object.values(this.state.nodes).every((n) => n.status === 'succeeded' || n.status === 'skipped')) {
      return this.finish('completed');
    }
    this.refreshStatus();
  }

  private async incoming(nodeId: string): Promise<'run' | 'skip' | 'undecided'> {
    let satisfied = false;
    for (const [index, edge] of this.ctx.definition.edges.entries()) {
      if (edge.to !== nodeId) continue;
      const source = this.state.nodes[edge.from] as NodeState;
      if (source.status === 'skipped') continue;
      if (source.status !== 'succeeded') return 'undecided';
      satisfied = (await this.edgeHolds(index)) || satisfied;
    }
    const hasIncoming = this.ctx.definition.edges.some((e) => e.to === nodeId);
    return !hasIncoming || satisfied ? 'run' : 'skip';
  }

  private async edgeHolds(index: number): Promise<boolean> {
    const known = this.state.edges[index];
    if (known !== undefined) return known;
    const edge = this.ctx.definition.edges[index] as { from: string; to: string; when?: string };
    let holds = true;
    if (edge.when !== undefined) {
      try {
        holds = Boolean(await this.ctx.evaluate(edge.when, this.expressionData()));
      } catch (error) {
        if (error instanceof ExpressionLimitError) throw new EdgeFailed(edge, error);
        if (!(error instanceof ExpressionError)) throw error;
        holds = false;
      }
    }
    this.state.edges[index] = holds;
    return holds;
  }

  private startAttempt(nodeId: string, attempt: number, fromType: string, triggeredAt: number): void {
    const node = this.writable(nodeId);
    const def = this.def(nodeId);
    node.attempts = attempt;
    delete node.retryAt;
    const deadlineAt = def.timeoutMs ? this.ctx.now + def.timeoutMs : null;
    if (deadlineAt !== null) {
      this.effects.push({
        type: 'set_timer',
        key: timeoutKey(nodeId, attempt),
        kind: 'node_timeout',
        fireAt: deadlineAt,
        nodeId,
        attempt,
      });
    }
    if (def.type === 'delay') {
      node.status = 'waiting';
      const ms = (def.config as { ms: number }).ms;
      this.event('node.waiting', 'waiting', nodeId, { attempt, until: this.ctx.now + ms });
      this.effects.push({
        type: 'set_timer',
        key: `delay:${nodeId}:${attempt}`,
        kind: 'delay',
        fireAt: this.ctx.now + ms,
        nodeId,
        attempt,
      });
      return;
    }
    if (def.type === 'hitl') {
      node.status = 'waiting';
      const prompt = (def.config as { prompt: string }).prompt;
      this.event('node.waiting', 'waiting', nodeId, { attempt, prompt });
      this.effects.push({ type: 'open_approval', nodeId, attempt, prompt });
      return;
    }
    node.status = 'running';
    const seq = this.event('node.dispatched', 'running', nodeId, { attempt });
    this.effects.push({
      type: 'dispatch',
      nodeId,
      nodeType: def.type,
      attempt,
      config: def.config,
      input: this.expressionData(),
      deadlineAt,
      fromType,
      triggeredAt,
      seq,
      ...(def.cache ? { cache: def.cache } : {}),
    });
  }

  private async finish(status: TerminalRunStatus, error?: string): Promise<void> {
    for (const [id, node] of Object.entries(this.state.nodes)) {
      if (ACTIVE.has(node.status) || (node.status === 'pending' && node.attempts > 0))
        this.writable(id).status = 'cancelled';
    }
    this.state.status = status;
    if (status === 'completed') this.state.output = this.output();
    else if (error !== undefined) this.state.error = error;
    // Only runs that may hold timers or open approvals pay for the statements that remove them.
    const started = Object.entries(this.state.nodes).filter(([, n]) => n.attempts > 0);
    const defs = started.map(([id]) => this.def(id));
    if (defs.some((d) => d.timeoutMs !== undefined || d.retry !== undefined || d.type === 'delay')) {
      this.effects.push({ type: 'clear_all_timers' });
    }
    if (defs.some((d) => d.type === 'hitl')) this.effects.push({ type: 'expire_approvals' });
    this.event(`run.${status}`, status, undefined, error === undefined ? undefined : { error });
    return Promise.resolve();
  }

  /** Outputs of the terminal (sink) nodes that ran, by node id. */
  private output(): Record<string, unknown> {
    const sources = new Set(this.ctx.definition.edges.map((e) => e.from));
    const out: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(this.state.nodes)) {
      if (!sources.has(id) && node.status === 'succeeded') out[id] = visibleOutput(node);
    }
    return out;
  }

  private refreshStatus(): void {
    const nodes = Object.values(this.state.nodes);
    const busy = nodes.some((n) => n.status === 'running' || (n.status === 'pending' && n.attempts > 0));
    const waiting = nodes.some((n) => n.status === 'waiting');
    const next = !busy && waiting ? 'waiting' : 'running';
    if (next !== this.state.status) {
      this.state.status = next;
      this.event(`run.${next}`, next);
    }
  }

  private expressionData(): ExpressionData {
    const nodes: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(this.state.nodes)) {
      if (node.status === 'succeeded') nodes[id] = visibleOutput(node);
    }
    return { input: this.ctx.input, nodes };
  }

  private def(nodeId: string): NodeDefinition {
    const def = this.ctx.definition.nodes[nodeId];
    if (!def) throw new Error(`node ${nodeId} is not in the run's workflow version`);
    return def;
  }
}

const timeoutKey = (nodeId: string, attempt: number) => `timeout:${nodeId}:${attempt}`;

/** An edge whose condition could not be decided; it unwinds the step to where the run is failed. */
class EdgeFailed extends Error {
  constructor(edge: { from: string; to: string }, cause: ExpressionLimitError) {
    super(`edge ${edge.from} → ${edge.to}: ${cause.name}: ${cause.message}`);
  }
}

/** A node's output as expressions and readers see it: inline, or a reference into content-addressed storage. */
export const visibleOutput = (node: NodeState): unknown =>
  node.outputRef === undefined ? (node.output ?? null) : { $ref: node.outputRef };
