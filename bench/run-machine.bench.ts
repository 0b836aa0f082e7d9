import { applyInput, initialState, startRun, type MachineContext, type RunInput, type RunState } from '#libs/runs';
import type { WorkflowDefinition } from '#libs/workflows';
import { reportMicroBench, RoundSamples, startMicroBench } from './support/micro-bench.js';
import { progress } from './support/progress.js';

/**
 * `npm run bench:machine`: the coordinator's run machine, CPU per whole run (its start and one completion per node),
 * as installed (each transition copies only what it changes) against a deep copy of the state per input (what it did
 * before, `structuredClone`), in one process, rounds alternating. Chains of function nodes: 3 nodes with small
 * outputs (the `bench:runs` workflow), and 50 nodes each completing with a ~10 KB output, where a deep copy per input
 * costs the run its outputs times its inputs. No stack needed. Progress on stderr; stdout gets the table and one JSON
 * line.
 */

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const settings = { runs: env('BENCH_RUNS', 5), minMs: env('BENCH_MIN_MS', 1_000) };

type ApplyInput = (current: RunState, input: RunInput, ctx: MachineContext) => ReturnType<typeof applyInput>;
const copyOnWrite: ApplyInput = applyInput;
const deepCopyFirst: ApplyInput = (current, input, ctx) => applyInput(structuredClone(current), input, ctx);

function chain(nodes: number): WorkflowDefinition {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
  return {
    nodes: Object.fromEntries(ids.map((id) => [id, { type: 'function', config: { expression: 'input' } }])),
    edges: ids.slice(1).map((to, i) => ({ from: ids[i] as string, to })),
  };
}

interface Case {
  readonly key: string;
  readonly label: string;
  readonly definition: WorkflowDefinition;
  readonly output: unknown;
}
const CASES: readonly Case[] = [
  { key: 'chain3', label: '3-node chain, small outputs', definition: chain(3), output: { value: 42 } },
  {
    key: 'chain50',
    label: '50-node chain, ~10 KB output per node',
    definition: chain(50),
    output: { rows: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `row ${i}`, score: i / 7 })) },
  },
];
const MODES = { cow: 'copy on write (as installed)', deep: 'deep copy per input (before)' } as const;
type Mode = keyof typeof MODES;

/** One whole run through the machine; the number of events it recorded, so the work cannot be optimised away. */
async function oneRun(c: Case, transition: ApplyInput): Promise<number> {
  const ctx: MachineContext = {
    definition: c.definition,
    input: { n: 1 },
    now: 1_000,
    random: () => 0.5,
    evaluate: () => Promise.reject(new Error('the chains have no conditions')),
    runTimeoutMs: null,
  };
  let { state } = await startRun(initialState(c.definition), ctx, 900);
  for (const nodeId of Object.keys(c.definition.nodes)) {
    const input: RunInput = { kind: 'completed', nodeId, attempt: 1, succeeded: true, output: c.output, at: 1_000 };
    state = (await transition(state, input, ctx)).state;
  }
  if (state.status !== 'completed') throw new Error(`${c.key}: the run ended ${state.status}`);
  return state.eventSeq;
}

/** Process CPU in µs per run, over at least `minMs` of runs. */
async function measure(c: Case, transition: ApplyInput, minMs: number): Promise<number> {
  const before = process.cpuUsage();
  const started = performance.now();
  let runs = 0;
  let events = 0;
  while (performance.now() - started < minMs) {
    events += await oneRun(c, transition);
    runs++;
  }
  const used = process.cpuUsage(before);
  if (events <= 0) throw new Error('no run recorded an event');
  return (used.user + used.system) / runs;
}

async function main(): Promise<void> {
  const busy = await startMicroBench('run machine', `${settings.runs} runs of ≥ ${settings.minMs} ms per figure`);
  const transitions: Record<Mode, ApplyInput> = { cow: copyOnWrite, deep: deepCopyFirst };
  const samples = new RoundSamples();
  for (const c of CASES) for (const mode of ['cow', 'deep'] as const) await measure(c, transitions[mode], 300);
  for (let run = 1; run <= settings.runs; run++) {
    for (const c of CASES) {
      // Alternating which goes first, so a drift of the machine's speed does not favour one.
      const order: readonly Mode[] = run % 2 === 0 ? ['deep', 'cow'] : ['cow', 'deep'];
      for (const mode of order) samples.record(`${c.key}.${mode}`, await measure(c, transitions[mode], settings.minMs));
      progress(
        `run ${run} ${c.key}: copy on write ${samples.last(`${c.key}.cow`)} µs, ` +
          `deep copy ${samples.last(`${c.key}.deep`)} µs per run`,
      );
    }
  }
  const figures = samples.figures(CASES, ['cow', 'deep'] as const, (c, mode) => ({
    label: `${c.label}: ${MODES[mode]}`,
    unit: 'µs CPU/run',
  }));
  reportMicroBench(settings, busy, figures);
}

await main();
