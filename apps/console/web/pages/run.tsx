import { useEffect, useState } from 'preact/hooks';
import { isTerminal, isTerminalRunEvent } from '#libs/runs';
import { api, data, follow } from '../api';
import { Dag } from '../dag';
import { Problem, Section, useLoad, when } from '../ui';

/** A run, live: every event on its stream re-reads its state; waiting approvals can be decided here. */
export function Run(props: { id: string }) {
  const run = useLoad(() => data(api().GET('/v1/runs/{id}', { params: { path: { id: props.id } } })), [props.id]);
  const workflowId = run.value?.workflowId;
  const workflowVersion = run.value?.workflowVersion;
  const version = useLoad(
    () =>
      workflowId && workflowVersion
        ? data(
            api().GET('/v1/workflows/{id}/versions/{version}', {
              params: { path: { id: workflowId, version: workflowVersion } },
            }),
          )
        : Promise.resolve(undefined),
    [workflowId, workflowVersion],
  );
  const [events, setEvents] = useState<{ id: string | undefined; event: string }[]>([]);
  // Per node: attempts, first dispatch, finish (the projection's view, read again as events come).
  const timeline = useLoad(
    () => data(api().GET('/v1/runs/{id}/timeline', { params: { path: { id: props.id } } })),
    [props.id, run.value?.status, events.length],
  );
  // The stream comes from Kafka, the run's state from its Postgres projection, which can be a moment behind: after
  // the last event, the state is read again until it shows the end too.
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    const stop = new AbortController();
    setEvents([]);
    setEnded(false);
    follow(
      `/v1/runs/${props.id}/events`,
      stop.signal,
      (event) => {
        setEvents((list) => [...list, { id: event.id, event: event.event }]);
        if (isTerminalRunEvent(event.event)) setEnded(true);
        run.reload();
      },
      { isLast: (event) => isTerminalRunEvent(event.event) },
    );
    return () => stop.abort();
  }, [props.id]);

  const [error, setError] = useState<Error>();
  const act = async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      run.reload();
    } catch (caught) {
      setError(caught as Error);
    }
  };
  const cancel = () =>
    act(() => data(api().POST('/v1/runs/{id}/cancel', { params: { path: { id: props.id } }, body: {} })));
  const decide = (nodeId: string, approved: boolean) =>
    act(() =>
      data(
        api().POST('/v1/runs/{id}/nodes/{nodeId}/approval', {
          params: { path: { id: props.id, nodeId } },
          body: { approved },
        }),
      ),
    );

  const value = run.value;
  const states = value ? Object.fromEntries(Object.entries(value.nodes).map(([id, n]) => [id, n.status])) : {};
  const finished = value !== undefined && isTerminal(value.status);
  useEffect(() => {
    if (!ended || finished || run.loading) return;
    const timer = setTimeout(run.reload, 250);
    return () => clearTimeout(timer);
  }, [ended, finished, run.loading]);
  return (
    <>
      <Section
        title={`Run ${props.id.slice(0, 8)}`}
        actions={
          value && !finished ? (
            <button class="danger" onClick={() => void cancel()}>
              Cancel
            </button>
          ) : null
        }
      >
        <Problem error={run.error ?? error} />
        {value ? (
          <p class="meta">
            <span class={`status ${value.status}`} data-testid="run-status">
              {value.status}
            </span>{' '}
            · <a href={`#/workflows/${value.workflowId}`}>workflow</a> v{value.workflowVersion} · started{' '}
            {when(value.createdAt)}
            {value.finishedAt ? ` · finished ${when(value.finishedAt)}` : ''}
          </p>
        ) : null}
        {version.value ? <Dag definition={version.value.definition} states={states} /> : null}
      </Section>
      <Section title="Nodes">
        <table data-testid="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Output or error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {value
              ? Object.entries(value.nodes).map(([id, node]) => (
                  <tr key={id} data-node={id}>
                    <td>{id}</td>
                    <td class={node.status}>{node.status}</td>
                    <td>{node.attempts}</td>
                    <td>
                      <code>{node.error ?? (node.output === undefined ? '' : JSON.stringify(node.output))}</code>
                    </td>
                    <td>
                      {node.status === 'waiting' && version.value?.definition.nodes[id]?.type === 'hitl' ? (
                        <>
                          <button onClick={() => void decide(id, true)}>Approve</button>{' '}
                          <button class="danger" onClick={() => void decide(id, false)}>
                            Reject
                          </button>
                        </>
                      ) : null}
                    </td>
                  </tr>
                ))
              : null}
          </tbody>
        </table>
        {value?.output !== undefined ? (
          <>
            <h3>Output</h3>
            <pre data-testid="run-output">{JSON.stringify(value.output, null, 2)}</pre>
          </>
        ) : null}
        {value?.error ? <p class="problem">{value.error}</p> : null}
      </Section>
      <Section title="Timeline">
        <table data-testid="timeline">
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>First dispatched</th>
              <th>Finished</th>
              <th>Took</th>
            </tr>
          </thead>
          <tbody>
            {timeline.value?.nodes.map((node) => (
              <tr key={node.nodeId} data-node={node.nodeId}>
                <td>{node.nodeId}</td>
                <td class={node.status}>{node.status}</td>
                <td>{node.attempts}</td>
                <td>{when(node.firstDispatchedAt)}</td>
                <td>{when(node.finishedAt)}</td>
                <td>{node.durationMs === null ? '' : `${node.durationMs} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Events">
        <ol class="events" data-testid="events">
          {events.map((e) => (
            <li key={e.id}>
              {e.id} {e.event}
            </li>
          ))}
        </ol>
      </Section>
    </>
  );
}
