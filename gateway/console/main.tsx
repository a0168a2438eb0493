import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { Layout } from './components/layout.tsx';
import { PageHeader } from './components/ui.tsx';
import { location, match } from './lib/router.ts';
import { can, loadSession, session } from './lib/session.ts';
import { ROUTES } from './pages/routes.ts';
import { SignInPage } from './pages/sign-in.tsx';
import './styles.css';

function CurrentPage() {
  const { path, query } = location.value;
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (!params) continue;
    if (route.scope && !can(route.scope)) {
      return (
        <>
          <PageHeader title={route.title} />
          <p class="notice">
            This key lacks the scope {route.scope}, so this page has nothing to show.
          </p>
        </>
      );
    }
    document.title = `${route.title} · Switchboard`;
    const Page = route.page;
    return <Page params={params} query={query} />;
  }
  return (
    <>
      <PageHeader title="Not found" />
      <p class="notice">
        No console page at {path}. <a href="#/">Back to the overview</a>.
      </p>
    </>
  );
}

function App() {
  useEffect(() => {
    void loadSession();
  }, []);
  const who = session.value;
  if (who === undefined) return <p class="loading">Loading…</p>;
  if (who === null) return <SignInPage />;
  return (
    <Layout who={who}>
      <CurrentPage />
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
