import { useEffect, useState } from 'preact/hooks';
import { api, data } from '../api';
import { Problem, Section, useLoad, when } from '../ui';

/** How often the figures refresh while the page is open: lag moves by the second, but each read asks the brokers. */
const REFRESH_MS = 5_000;

/** Reloads `reload` every REFRESH_MS while the page is open. */
function useRefresh(...reloads: (() => void)[]) {
  useEffect(() => {
    const timer = setInterval(() => reloads.forEach((reload) => reload()), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
}

/** Every workspace's plumbing, for an operator's admin key: consumer lag, the outbox, dead letters with redrive. */
export function Operations() {
  const lag = useLoad(() => data(api().GET('/v1/operator/consumer-lag')), []);
  const outbox = useLoad(() => data(api().GET('/v1/operator/outbox')), []);
  const topics = useLoad(() => data(api().GET('/v1/operator/dead-letter-topics')), []);
  const [shown, setShown] = useState<string>();
  useRefresh(lag.reload, outbox.reload);
  return (
    <>
      <Section title="Consumer lag" actions={<small>at {when(lag.value?.at)}</small>}>
        <Problem error={lag.error} />
        <table data-testid="consumer-lag">
          <thead>
            <tr>
              <th>Group</th>
              <th>State</th>
              <th>Members</th>
              <th>Lag</th>
              <th>Per topic</th>
            </tr>
          </thead>
          <tbody>
            {lag.value?.groups.map((g) => (
              <tr key={g.group} data-group={g.group}>
                <td>
                  <code>{g.group}</code>
                </td>
                <td>{g.state}</td>
                <td>{g.members}</td>
                <td class={g.lag ? 'lagging' : ''} data-testid="lag">
                  {g.lag}
                </td>
                <td>
                  {g.topics.map((t) => (
                    <div key={t.topic}>
                      <code>{t.topic}</code> {t.lag}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Outbox">
        <Problem error={outbox.error} />
        {outbox.value ? (
          <>
            <p data-testid="outbox-summary">
              {outbox.value.rows} row(s) waiting
              {outbox.value.oldestAgeSeconds === null
                ? ''
                : `, oldest ${outbox.value.oldestAgeSeconds.toFixed(1)} s`}; {outbox.value.relays.length} relay(s)
              alive; {outbox.value.deadRows} dead row(s)
            </p>
            {outbox.value.topics.length ? (
              <table>
                <thead>
                  <tr>
                    <th>Topic</th>
                    <th>Rows</th>
                    <th>Oldest (s)</th>
                  </tr>
                </thead>
                <tbody>
                  {outbox.value.topics.map((t) => (
                    <tr key={t.topic}>
                      <td>
                        <code>{t.topic}</code>
                      </td>
                      <td>{t.rows}</td>
                      <td>{t.oldestAgeSeconds.toFixed(1)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </>
        ) : null}
      </Section>
      <Section title="Dead-letter topics" actions={<button onClick={topics.reload}>Refresh</button>}>
        <Problem error={topics.error} />
        <table data-testid="dead-letter-topics">
          <thead>
            <tr>
              <th>Topic</th>
              <th>Messages</th>
              <th>Not redriven</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {topics.value?.topics
              .filter((t) => t.messages > 0)
              .map((t) => (
                <tr key={t.topic} data-topic={t.topic}>
                  <td>
                    <code>{t.topic}</code>
                  </td>
                  <td>{t.messages}</td>
                  <td data-testid="not-redriven">{t.notRedriven}</td>
                  <td>
                    <button onClick={() => setShown(t.topic)}>Show</button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
        {topics.value && !topics.value.topics.some((t) => t.messages > 0) ? (
          <p class="empty">No dead letters ({topics.value.topics.length} dead-letter topics, all empty).</p>
        ) : null}
      </Section>
      {shown ? <DeadLetters topic={shown} key={shown} onRedriven={topics.reload} /> : null}
    </>
  );
}

/** A dead-letter topic's messages, why each failed, and a redrive of those not redriven yet. */
function DeadLetters(props: { topic: string; onRedriven: () => void }) {
  const path = { topic: props.topic };
  const messages = useLoad(
    () => data(api().GET('/v1/operator/dead-letter-topics/{topic}/messages', { params: { path, query: { max: 50 } } })),
    [],
  );
  const [outcome, setOutcome] = useState<string>();
  const [error, setError] = useState<Error>();
  const redrive = async (dryRun: boolean) => {
    setError(undefined);
    try {
      const done = await data(
        api().POST('/v1/operator/dead-letter-topics/{topic}/redrive', { params: { path }, body: { dryRun } }),
      );
      const targets = [...new Set(done.redriven.map((r) => r.to))].join(', ') || 'their source topic';
      setOutcome(`${dryRun ? 'Would redrive' : 'Redriven'} ${done.redriven.length} message(s) to ${targets}`);
      if (!dryRun) props.onRedriven();
    } catch (caught) {
      setError(caught as Error);
    }
  };
  return (
    <Section
      title={`Dead letters of ${props.topic}`}
      actions={
        <span>
          <button onClick={() => void redrive(true)}>Dry run</button>{' '}
          <button onClick={() => void redrive(false)}>Redrive</button>
        </span>
      }
    >
      <Problem error={messages.error ?? error} />
      {outcome ? (
        <p data-testid="redrive-outcome" role="status">
          {outcome}
        </p>
      ) : null}
      <table data-testid="dead-letters">
        <thead>
          <tr>
            <th>Partition@offset</th>
            <th>Key</th>
            <th>Failed</th>
            <th>Attempts</th>
            <th>Error</th>
            <th>Value</th>
          </tr>
        </thead>
        <tbody>
          {messages.value?.messages.map((m) => (
            <tr key={`${m.partition}@${m.offset}`}>
              <td>
                {m.partition}@{m.offset}
              </td>
              <td>
                <code>{m.key ?? ''}</code>
              </td>
              <td>{when(m.dlq['dlq.failed-at'] ?? m.timestamp)}</td>
              <td>{m.dlq['dlq.attempts'] ?? ''}</td>
              <td class="failed">{m.dlq['dlq.error'] ?? ''}</td>
              <td>
                <code>{m.error ? `${m.error} (${m.raw ?? ''})` : JSON.stringify(m.value)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
