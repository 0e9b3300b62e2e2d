// Oriel's dashboard: sign-in, the environment switcher, and the pages for spaces, signing keys,
// access tokens and environments. Served by Oriel at / (see crates/oriel-api/src/dashboard).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { listEnvironments, loadSession, signOut, type Environment, type Session } from './api';
import { ErrorNote, Link } from './components';
import { Logo } from './Logo';
import { AccessTokens } from './pages/AccessTokens';
import { Environments } from './pages/Environments';
import { LiveStreams } from './pages/LiveStreams';
import { Webhooks } from './pages/Webhooks';
import { SignIn } from './pages/SignIn';
import { SigningKeys } from './pages/SigningKeys';
import { Space } from './pages/Space';
import { Spaces } from './pages/Spaces';
import { navigate, usePath } from './router';

const ENV_KEY = 'oriel.dashboard.environment';

/** Stroke icons (24×24 paths), drawn by the nav. */
const ICONS: Record<string, string> = {
  spaces: 'M3 5h18v12H3zM8 21h8M12 17v4',
  keys: 'M15 7a4 4 0 1 1-3.9 4.9L4 19v2h3v-2h2v-2h2l1.1-1.1A4 4 0 0 1 15 7z',
  tokens: 'M6 11h12v10H6zM8 11V7a4 4 0 0 1 8 0v4',
  live: 'M12 12m-2 0a2 2 0 1 0 4 0a2 2 0 1 0-4 0M7.8 7.8a6 6 0 0 0 0 8.4M16.2 16.2a6 6 0 0 0 0-8.4M5 5a10 10 0 0 0 0 14M19 19a10 10 0 0 0 0-14',
  environments: 'M12 3l9 5-9 5-9-5 9-5zM3 13l9 5 9-5',
  meeting: 'M3 7h12v10H3zM15 10l6-3v10l-6-3',
  webhooks: 'M4 12h10M10 6l6 6-6 6M20 4v16',
};

function Icon({ name }: { name: string }) {
  return (
    <svg class="nav-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none"
      stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">
      <path d={ICONS[name]} />
    </svg>
  );
}

const NAV = [
  { href: '/spaces', label: 'Spaces', icon: 'spaces' },
  { href: '/live-streams', label: 'Live streams', icon: 'live' },
  { href: '/webhooks', label: 'Webhooks', icon: 'webhooks' },
  { href: '/signing-keys', label: 'Signing keys', icon: 'keys' },
  { href: '/access-tokens', label: 'Access tokens', icon: 'tokens' },
  { href: '/environments', label: 'Environments', icon: 'environments' },
];

function safeNext(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '';
  // Only a path of this app, never another origin.
  return next.startsWith('/') && !next.startsWith('//') && next !== '/sign-in' ? next : '/spaces';
}

function titleOf(path: string): string {
  if (path.startsWith('/spaces/')) return 'Space';
  return NAV.find((n) => n.href === path)?.label ?? 'Spaces';
}

function Shell(props: { session: Session; onSignedOut: () => void }) {
  const path = usePath();
  const [environments, setEnvironments] = useState<Environment[] | null>(null);
  const [envId, setEnvId] = useState<string>(localStorage.getItem(ENV_KEY) ?? '');
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    listEnvironments().then(setEnvironments, setError);
  }, []);
  useEffect(() => {
    if (path === '/') navigate('/spaces', true);
  }, [path]);

  const current = environments?.find((e) => e.id === envId) ?? environments?.[0];
  useEffect(() => {
    document.title = `${titleOf(path)}${current ? ` · ${current.name}` : ''} · Oriel`;
  }, [path, current]);

  const switchTo = (id: string) => {
    localStorage.setItem(ENV_KEY, id);
    setEnvId(id);
    // A space belongs to one environment: its page makes no sense in another.
    if (path.startsWith('/spaces/')) navigate('/spaces');
  };
  const doSignOut = async () => {
    try { await signOut(); } finally { props.onSignedOut(); }
  };

  let page = null;
  if (current) {
    if (path.startsWith('/spaces/')) page = <Space key={`${current.id}${path}`} environmentId={current.id} spaceId={decodeURIComponent(path.slice('/spaces/'.length))} />;
    else if (path === '/live-streams') page = <LiveStreams environmentId={current.id} />;
    else if (path === '/webhooks') page = <Webhooks environmentId={current.id} />;
    else if (path === '/signing-keys') page = <SigningKeys environmentId={current.id} />;
    else if (path === '/access-tokens') page = <AccessTokens environmentId={current.id} environmentName={current.name} />;
    else if (path.startsWith('/environments')) page = (
      <Environments environments={environments ?? []} currentId={current.id} onSwitch={switchTo}
        onCreated={(env) => { setEnvironments([...(environments ?? []), env]); switchTo(env.id); }} />
    );
    else page = <Spaces environmentId={current.id} />;
  } else if (environments && environments.length === 0) {
    page = (
      <Environments environments={[]} currentId="" onSwitch={switchTo}
        onCreated={(env) => { setEnvironments([env]); switchTo(env.id); }} />
    );
  }

  return (
    <div class="layout">
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar" role="banner">
        <Link href="/spaces" class="brand"><Logo /></Link>
        <div class="env-switcher">
          <label for="environment-select">Environment</label>
          <select id="environment-select" value={current?.id ?? ''} disabled={!environments?.length}
            onChange={(e) => switchTo((e.target as HTMLSelectElement).value)}>
            {(environments ?? []).map((env) => <option key={env.id} value={env.id}>{env.name}</option>)}
          </select>
        </div>
        <div class="topbar-spacer" />
        <span class="user" title="Signed in">{props.session.user.email}</span>
        <button type="button" class="button button-ghost" onClick={doSignOut}>Sign out</button>
      </header>
      <nav class="sidebar" aria-label="Main">
        <ul>
          {NAV.map((item) => {
            const active = path === item.href || (item.href === '/spaces' && path.startsWith('/spaces/'));
            return (
              <li key={item.href}>
                <Link href={item.href} class={active ? 'nav-link active' : 'nav-link'} aria-current={active ? 'page' : undefined}>
                  <Icon name={item.icon} />{item.label}
                </Link>
              </li>
            );
          })}
        </ul>
        <div class="sidebar-footer">
          <a href="/demo" class="nav-link" target="_blank" rel="noopener"><Icon name="meeting" />Meeting page</a>
        </div>
      </nav>
      <main class="content" id="main" tabIndex={-1}>
        <ErrorNote error={error} />
        {page ?? (!error && <p class="loading">Loading…</p>)}
      </main>
    </div>
  );
}

function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => { loadSession().then(setSession, setError); }, []);
  useEffect(() => {
    if (session === null && path !== '/sign-in') navigate('/sign-in', true);
    if (session && path === '/sign-in') navigate(safeNext(), true);
  }, [session, path]);

  if (error) return <main id="main" class="sign-in"><ErrorNote error={error} /></main>;
  if (session === undefined) return <p class="loading page-loading">Loading…</p>;
  if (session === null) {
    document.title = 'Sign in · Oriel';
    return <SignIn onSignedIn={(s) => { setSession(s); navigate(safeNext(), true); }} />;
  }
  return <Shell session={session} onSignedOut={() => location.assign('/sign-in')} />;
}

render(<App />, document.getElementById('app')!);
