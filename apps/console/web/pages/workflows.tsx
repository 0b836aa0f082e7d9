import { useState } from 'preact/hooks';
import { api, data } from '../api';
import { Problem, Section, parseJson, useLoad, when } from '../ui';

const STARTER = JSON.stringify(
  {
    nodes: {
      greet: { type: 'function', config: { expression: '"hello " & input.name' } },
      review: { type: 'hitl', config: { prompt: 'Send {{nodes.greet}}?' } },
    },
    edges: [{ from: 'greet', to: 'review' }],
  },
  null,
  2,
);

/** The workspace's workflows, searchable by name, and a form to create one. */
export function Workflows() {
  const [q, setQ] = useState('');
  const list = useLoad(
    () => data(api().GET('/v1/workflows', { params: { query: { limit: 100, ...(q ? { q } : {}) } } })),
    [q],
  );
  const [name, setName] = useState('');
  const [definition, setDefinition] = useState(STARTER);
  const [error, setError] = useState<Error>();
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const parsed = parseJson(definition, 'the definition');
    if (!parsed.ok) return setError(new Error(parsed.error));
    try {
      const created = await data(api().POST('/v1/workflows', { body: { name, definition: parsed.value as never } }));
      location.hash = `#/workflows/${created.id}`;
    } catch (caught) {
      setError(caught as Error);
    }
  };
  return (
    <>
      <Section
        title="Workflows"
        actions={
          <input
            type="search"
            name="q"
            placeholder="Search by name"
            value={q}
            onInput={(e) => setQ(e.currentTarget.value)}
          />
        }
      >
        <Problem error={list.error} />
        <table data-testid="workflows">
          <thead>
            <tr>
              <th>Name</th>
              <th>Version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.value?.workflows.map((w) => (
              <tr key={w.id}>
                <td>
                  <a href={`#/workflows/${w.id}`}>{w.name}</a>
                </td>
                <td>{w.version}</td>
                <td>{when(w.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.value && !list.value.workflows.length ? (
          <p class="empty">No workflows{q ? ` matching “${q}”` : ''}.</p>
        ) : null}
      </Section>
      <Section title="New workflow">
        <form class="stack" onSubmit={(event) => void create(event)}>
          <input name="name" placeholder="Name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <textarea
            name="definition"
            rows={12}
            value={definition}
            onInput={(e) => setDefinition(e.currentTarget.value)}
          />
          <button type="submit" disabled={!name.trim()}>
            Create
          </button>
          <Problem error={error} />
        </form>
      </Section>
    </>
  );
}
