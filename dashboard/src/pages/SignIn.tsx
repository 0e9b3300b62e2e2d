import { useState } from 'preact/hooks';
import { signIn, type Session } from '../api';
import { ErrorNote } from '../components';
import { Logo } from '../Logo';

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(email, password));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <form class="sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <div class="sign-in-logo"><Logo /></div>
        <h1 id="sign-in-title">Sign in to Oriel</h1>
        <p class="muted">Real-time video, self-hosted.</p>
        <label class="field">
          <span>Email</span>
          <input type="email" name="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>Password</span>
          <input type="password" name="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="button button-primary button-block" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p class="hint">No account? On the server: <code>oriel admin create-user --email you@example.com</code></p>
      </form>
    </main>
  );
}
