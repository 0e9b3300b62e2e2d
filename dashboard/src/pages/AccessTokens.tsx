import { useEffect, useState } from 'preact/hooks';
import { createAccessToken, listAccessTokens, revokeAccessToken, type AccessToken } from '../api';
import { EmptyState, ErrorNote, formatTime, PageHeader, Pager, PAGE_SIZE, SecretReveal, StatusBadge } from '../components';

export function AccessTokens({ environmentId, environmentName }: { environmentId: string; environmentName: string }) {
  const [tokens, setTokens] = useState<AccessToken[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<AccessToken | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);

  const [page, setPage] = useState(1);
  // Bumped to load the current page again.
  const [version, setVersion] = useState(0);

  useEffect(() => { setTokens(null); setPage(1); setCreated(null); setCreating(false); setRevoking(null); }, [environmentId]);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    listAccessTokens(environmentId, page, PAGE_SIZE)
      .then((list) => { if (current) { setTokens(list); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, page, version]);
  const reload = () => setVersion((v) => v + 1);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await createAccessToken(environmentId, name.trim()));
      setName('');
      setCreating(false);
      // Newest first: the new token is on the first page.
      if (page === 1) reload(); else setPage(1);
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await revokeAccessToken(environmentId, id);
      setRevoking(null);
      reload();
    } catch (e) {
      setError(e);
    }
  };
  const start = () => { setCreating(true); setCreated(null); };

  return (
    <>
      <PageHeader title="Access tokens" description={<>HTTP Basic credentials of the REST API (<code>/video/v1</code>, <code>/system/v1</code>) in the environment <strong>{environmentName}</strong>.</>}>
        {!creating && tokens && (tokens.length > 0 || page > 1) && <button type="button" class="button button-primary" onClick={start}>Create access token</button>}
      </PageHeader>
      <ErrorNote error={error} />
      {created?.secret && (
        <SecretReveal title="New access token" onDismiss={() => setCreated(null)} note="Oriel keeps only a hash of the secret: it is shown this once."
          fields={[
            { label: 'Access token ID', value: created.id },
            { label: 'Secret key', value: created.secret, secret: true },
          ]}
          download={{ filename: `oriel-${environmentName}.env`, contents: `MUX_TOKEN_ID=${created.id}\nMUX_TOKEN_SECRET=${created.secret}\n` }} />
      )}
      {creating && (
        <form class="card inline-form" onSubmit={create} aria-labelledby="new-token-title">
          <h2 id="new-token-title" class="full-row">New access token</h2>
          <label class="field">
            <span>Name <span class="muted">(to recognise it later)</span></span>
            <input type="text" name="token-name" maxLength={255} value={name} placeholder="my backend"
              onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="button button-primary">Generate token</button>
          <button type="button" class="button button-secondary" onClick={() => setCreating(false)}>Cancel</button>
        </form>
      )}
      {tokens === null && !error && <p class="loading">Loading access tokens…</p>}
      {tokens && tokens.length === 0 && page > 1 && <p class="muted">No more access tokens.</p>}
      {tokens && tokens.length === 0 && page === 1 && !creating && (
        <EmptyState title="No access tokens yet" icon="⌘"
          action={<button type="button" class="button button-primary" onClick={start}>Create your first access token</button>}>
          Your server uses one to call the REST API: create spaces and signing keys.
        </EmptyState>
      )}
      {tokens && tokens.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Access tokens in this environment</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Token ID</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id} data-token-id={token.id}>
                  <td>{token.name || <span class="muted">unnamed</span>}</td>
                  <td><code>{token.id}</code></td>
                  <td><StatusBadge status={token.status} /></td>
                  <td>{formatTime(token.created_at)}</td>
                  <td class="actions">
                    {token.status === 'active' && (revoking === token.id
                      ? <span class="confirm">
                          <button type="button" class="button button-danger button-small" onClick={() => revoke(token.id)}>Confirm revoke</button>
                          <button type="button" class="button button-secondary button-small" onClick={() => setRevoking(null)}>Cancel</button>
                        </span>
                      : <button type="button" class="button button-danger-outline button-small" aria-label={`Revoke access token ${token.name || token.id}`}
                          onClick={() => setRevoking(token.id)}>Revoke</button>)}
                    {token.status === 'revoked' && <span class="muted">revoked {formatTime(token.revoked_at)}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {tokens && <Pager page={page} count={tokens.length} label="Access tokens" onPage={setPage} />}
    </>
  );
}
