import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Operations } from './pages/operations';
import { Run } from './pages/run';
import { Runs } from './pages/runs';
import { SignIn } from './pages/sign-in';
import { Workflow } from './pages/workflow';
import { Workflows } from './pages/workflows';
import { prewarmFoldWorker } from './materialize';
import { session } from './session';

const useHash = () => {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
};

function Page(props: { hash: string }) {
  const [, section, id] = props.hash.replace(/^#/, '').split('/');
  if (section === 'workflows' && id) return <Workflow id={id} key={id} />;
  if (section === 'runs' && id) return <Run id={id} key={id} />;
  if (section === 'runs') return <Runs />;
  if (section === 'operations') return <Operations />;
  return <Workflows />;
}

function App() {
  const hash = useHash();
  const [signedIn, setSignedIn] = useState(Boolean(session.key()));
  useEffect(() => {
    if (signedIn) prewarmFoldWorker();
  }, [signedIn]);
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return (
    <>
      <nav class="top">
        <strong>Orchestrator</strong>
        <a href="#/workflows">Workflows</a>
        <a href="#/runs">Runs</a>
        <a href="#/operations">Operations</a>
        <a href="/v1/docs">API reference</a>
        <button
          class="link"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </nav>
      <main>
        <Page hash={hash} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
