import { useState } from 'preact/hooks';
import { createApiClient } from '#libs/api-client';
import { data } from '../api';
import { session } from '../session';
import { Problem } from '../ui';

/** Takes an API key, checks it with a read, and keeps it for this tab only. */
export function SignIn(props: { onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<Error>();
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const client = createApiClient({ baseUrl: location.origin, apiKey: key.trim() });
      await data(client.GET('/v1/workflows', { params: { query: { limit: 1 } } }));
      session.signIn(key.trim());
      props.onSignedIn();
    } catch (caught) {
      setError(caught as Error);
    }
  };
  return (
    <form class="sign-in" onSubmit={(event) => void submit(event)}>
      <h1>Orchestrator</h1>
      <label>
        API key
        <input
          name="apiKey"
          type="password"
          autocomplete="off"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          placeholder="Bearer key of a workspace"
        />
      </label>
      <button type="submit" disabled={!key.trim()}>
        Sign in
      </button>
      <p class="hint">The key stays in this tab (sessionStorage) and goes only in the Authorization header.</p>
      <Problem error={error} />
    </form>
  );
}
