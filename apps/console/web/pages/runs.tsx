import { useState } from 'preact/hooks';
import { api, data } from '../api';
import { Problem, Section, useLoad, when } from '../ui';

const STATUSES = ['', 'pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'] as const;

/** The workspace's runs, newest first, by status. */
export function Runs() {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('');
  const list = useLoad(
    () => data(api().GET('/v1/runs', { params: { query: { limit: 100, ...(status ? { status } : {}) } } })),
    [status],
  );
  return (
    <Section
      title="Runs"
      actions={
        <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as typeof status)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || 'any status'}
            </option>
          ))}
        </select>
      }
    >
      <Problem error={list.error} />
      <table data-testid="run-list">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Workflow</th>
            <th>Tag</th>
            <th>Started</th>
            <th>Finished</th>
          </tr>
        </thead>
        <tbody>
          {list.value?.runs.map((r) => (
            <tr key={r.id}>
              <td>
                <a href={`#/runs/${r.id}`}>{r.id.slice(0, 8)}</a>
              </td>
              <td class={r.status}>{r.status}</td>
              <td>
                <a href={`#/workflows/${r.workflowId}`}>{r.workflowId.slice(0, 8)}</a> v{r.workflowVersion}
              </td>
              <td>{r.tag ?? ''}</td>
              <td>{when(r.createdAt)}</td>
              <td>{when(r.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
