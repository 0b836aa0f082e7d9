import { useEffect, useRef, useState } from 'preact/hooks';
import type { WorkflowDefinition } from '#libs/workflows';
import { api, data, follow } from '../api';
import { Dag } from '../dag';
import { materialize } from '../materialize';
import { Problem, Section, parseJson, useLoad, when } from '../ui';

const EXAMPLE_OPS = JSON.stringify(
  [{ op: 'add', path: '/nodes/extra', value: { type: 'delay', config: { ms: 100 } } }],
  null,
  2,
);

/**
 * A workflow as this browser materializes it: the server sends a snapshot and the patches after it, a Web Worker
 * folds them (pending ones included, marked as such), and the workflow's event stream triggers the next fold.
 */
export function Workflow(props: { id: string }) {
  const [version, setVersion] = useState<number>();
  // The worker draws the folded graph on this canvas itself (handed over once): the main thread never lays it out.
  const canvas = useRef<HTMLCanvasElement>(null);
  const folded = useLoad(() => materialize(props.id, { canvas: canvas.current }), [props.id]);
  const history = useLoad(
    () => data(api().GET('/v1/workflows/{id}/patches', { params: { path: { id: props.id }, query: { limit: 200 } } })),
    [props.id],
  );
  const runs = useLoad(
    () => data(api().GET('/v1/workflows/{id}/runs', { params: { path: { id: props.id }, query: { limit: 20 } } })),
    [props.id],
  );
  const diff = useLoad(
    () =>
      version === undefined
        ? Promise.resolve(undefined)
        : data(
            api().GET('/v1/workflows/{id}/versions/{version}/diff', { params: { path: { id: props.id, version } } }),
          ),
    [props.id, version],
  );
  const shown = useLoad(
    () =>
      version === undefined
        ? Promise.resolve(undefined)
        : data(api().GET('/v1/workflows/{id}/versions/{version}', { params: { path: { id: props.id, version } } })),
    [props.id, version],
  );

  // New versions only: the stream is numbered by version, so it starts after the one this view folded from.
  const known = folded.value?.source.latestVersion;
  const following = known !== undefined;
  useEffect(() => {
    if (known === undefined) return;
    const stop = new AbortController();
    follow(
      `/v1/workflows/${props.id}/events`,
      stop.signal,
      () => {
        folded.reload();
        history.reload();
      },
      { lastEventId: String(known) },
    );
    return () => stop.abort();
  }, [props.id, following]);

  const [ops, setOps] = useState(EXAMPLE_OPS);
  const [input, setInput] = useState('{}');
  const [error, setError] = useState<Error>();
  const [notice, setNotice] = useState<string>();
  const submitPatch = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const parsed = parseJson(ops, 'the patch');
    if (!parsed.ok) return setError(new Error(parsed.error));
    const list = Array.isArray(parsed.value) ? parsed.value : (parsed.value as { ops?: unknown }).ops;
    try {
      const accepted = await data(
        api().POST('/v1/workflows/{id}/patches', { params: { path: { id: props.id } }, body: { ops: list as never } }),
      );
      setNotice(`Patch ${accepted.seq} accepted (202); it shows as pending until a materializer decides it.`);
      folded.reload();
      history.reload();
    } catch (caught) {
      setError(caught as Error);
    }
  };
  const startRun = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const parsed = parseJson(input, 'the input');
    if (!parsed.ok) return setError(new Error(parsed.error));
    try {
      const started = await data(
        api().POST('/v1/workflows/{id}/runs', { params: { path: { id: props.id } }, body: { input: parsed.value } }),
      );
      location.hash = `#/runs/${started.runId}`;
    } catch (caught) {
      setError(caught as Error);
    }
  };

  const materialized = folded.value;
  const source = materialized?.source;
  const pending = source?.patches.filter((p) => p.status === 'pending') ?? [];
  const definition: WorkflowDefinition | undefined =
    version !== undefined ? shown.value?.definition : materialized?.definition;
  return (
    <>
      <Section title={source ? source.snapshot.name : 'Workflow'}>
        <Problem error={folded.error} />
        {source && materialized ? (
          <p
            class="meta"
            data-testid="materialized"
            data-patches={source.patches.length}
            data-fetch-ms={materialized.fetchMs}
            data-fold-ms={materialized.foldMs}
            data-layout-ms={materialized.layoutMs}
            data-draw-ms={materialized.drawMs}
            data-total-ms={materialized.totalMs}
          >
            Version {source.latestVersion} on the server; folded here from version {source.snapshot.version} with{' '}
            {source.patches.length} patches ({pending.length} pending) in {materialized.foldMs.toFixed(1)} ms.
          </p>
        ) : null}
        <nav class="versions">
          Versions:{' '}
          {source
            ? Array.from({ length: source.latestVersion }, (_, i) => i + 1).map((v) => (
                <button key={v} class={version === v ? 'active' : ''} onClick={() => setVersion(v)}>
                  {v}
                </button>
              ))
            : null}
          <button class={version === undefined ? 'active' : ''} onClick={() => setVersion(undefined)}>
            latest + pending
          </button>
        </nav>
        <div class="dag-frame" hidden={version !== undefined}>
          <canvas
            ref={canvas}
            class="dag"
            data-testid="dag-canvas"
            style={
              materialized ? { width: `${materialized.layout.width}px`, height: `${materialized.layout.height}px` } : {}
            }
          />
        </div>
        {materialized && version === undefined ? <NodeList nodes={materialized.layout.nodes} /> : null}
        {version !== undefined && definition ? <Dag definition={definition} /> : null}
        {version !== undefined && diff.value ? (
          <div data-testid="version-diff">
            <h3>
              {diff.value.previous === null
                ? `Version ${version}: the first`
                : `Version ${version}: ${diff.value.ops.length} changes from version ${diff.value.previous}, by patches ${diff.value.appliedPatches.map((p) => p.seq).join(', ') || '–'}`}
            </h3>
            <ul class="ops">
              {diff.value.ops.map((op, i) => (
                <li key={i}>
                  <code>
                    {op.op} {op.path}
                    {'value' in op ? ` ${JSON.stringify(op.value)}` : ''}
                  </code>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {definition ? <DefinitionJson definition={definition} /> : null}
      </Section>
      <Section title="Edit (JSON Patch)">
        <form class="stack" onSubmit={(event) => void submitPatch(event)}>
          <textarea name="ops" rows={8} value={ops} onInput={(e) => setOps(e.currentTarget.value)} />
          <button type="submit">Submit patch</button>
        </form>
        {notice ? <p class="notice">{notice}</p> : null}
        <Problem error={error} />
      </Section>
      <Section title="Patches">
        <table data-testid="patches">
          <thead>
            <tr>
              <th>Seq</th>
              <th>Status</th>
              <th>Version</th>
              <th>Reason</th>
              <th>Submitted</th>
            </tr>
          </thead>
          <tbody>
            {history.value?.patches.map((p) => (
              <tr key={p.patchId} class={p.status} data-status={p.status}>
                <td>{p.seq}</td>
                <td>{p.status}</td>
                <td>{p.status === 'applied' ? p.version : ''}</td>
                <td>{p.status === 'rejected' ? p.reason : ''}</td>
                <td>{when(p.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Runs">
        <form class="inline" onSubmit={(event) => void startRun(event)}>
          <input name="input" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
          <button type="submit">Start run</button>
        </form>
        <table data-testid="runs">
          <tbody>
            {runs.value?.runs.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={`#/runs/${r.id}`}>{r.id.slice(0, 8)}</a>
                </td>
                <td class={r.status}>{r.status}</td>
                <td>v{r.workflowVersion}</td>
                <td>{when(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

/** The definition as JSON, written out only once opened (a large one is a long main-thread task to lay out). */
function DefinitionJson(props: { definition: WorkflowDefinition }) {
  const [open, setOpen] = useState(false);
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Definition (JSON)</summary>
      {open ? <pre data-testid="definition">{JSON.stringify(props.definition, null, 2)}</pre> : null}
    </details>
  );
}

/** The drawn graph's nodes as text, for screen readers and search (closed: it costs no layout until opened). */
function NodeList(props: { nodes: readonly { id: string; type: string }[] }) {
  return (
    <details data-testid="dag-nodes">
      <summary>Nodes ({props.nodes.length})</summary>
      <ul>
        {props.nodes.map((node) => (
          <li key={node.id} data-node={node.id}>
            {node.id} ({node.type})
          </li>
        ))}
      </ul>
    </details>
  );
}
