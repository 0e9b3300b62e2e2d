import { useEffect, useState } from 'preact/hooks';
import { dataOf, runRequest, type RestResponse, type SigningKey } from '../api';
import { EmptyState, ErrorNote, formatTime, PageHeader, Pager, PAGE_SIZE, RequestPanel, SecretReveal } from '../components';

function decodePem(base64: string): string {
  try { return atob(base64); } catch { return base64; }
}

export function SigningKeys({ environmentId }: { environmentId: string }) {
  const [keys, setKeys] = useState<SigningKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<SigningKey | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const [page, setPage] = useState(1);
  // Bumped to load the current page again.
  const [version, setVersion] = useState(0);

  useEffect(() => { setKeys(null); setPage(1); setCreating(false); setCreated(null); setDeleting(null); }, [environmentId]);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    const path = `/system/v1/signing-keys?limit=${PAGE_SIZE}&page=${page}`;
    runRequest(environmentId, { method: 'GET', path })
      .then((response) => { if (current) { setKeys(dataOf<SigningKey[]>(response)); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, page, version]);
  const reload = () => setVersion((v) => v + 1);

  const onCreated = (response: RestResponse) => {
    if (response.status === 201) {
      setCreated(dataOf<SigningKey>(response));
      setCreating(false);
      // Newest first: the new key is on the first page.
      if (page === 1) reload(); else setPage(1);
    }
  };
  const onDeleted = (response: RestResponse) => {
    if (response.status === 204) setTimeout(() => { setDeleting(null); reload(); }, 600);
  };
  const start = () => { setCreating(true); setCreated(null); setDeleting(null); };

  return (
    <>
      <PageHeader title="Signing keys" description="Your server signs join tokens (RS256 JWTs) with a signing key's private half; Oriel keeps only the public half to verify them.">
        {!creating && keys && keys.length > 0 && <button type="button" class="button button-primary" onClick={start}>Create signing key</button>}
      </PageHeader>
      <ErrorNote error={error} />
      {created?.private_key && (
        <SecretReveal title="New signing key" onDismiss={() => setCreated(null)} note="Oriel keeps only the public half: the private key is shown this once."
          fields={[
            { label: 'Signing key ID', value: created.id },
            { label: 'Private key (base64)', value: created.private_key, secret: true },
          ]}
          download={{ filename: `oriel-signing-key-${created.id}.pem`, contents: decodePem(created.private_key) }} />
      )}
      {creating && (
        <RequestPanel environmentId={environmentId} title="Create a signing key"
          request={{ method: 'POST', path: '/system/v1/signing-keys', body: {} }} onResponse={onCreated}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setCreating(false)}>Cancel</button></div>} />
      )}
      {deleting && (
        <RequestPanel environmentId={environmentId} title="Delete signing key" danger
          request={{ method: 'DELETE', path: `/system/v1/signing-keys/${deleting}` }} onResponse={onDeleted}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setDeleting(null)}>Cancel</button></div>}>
          <p class="muted">Join tokens signed with this key stop working at once.</p>
        </RequestPanel>
      )}
      {keys === null && !error && <p class="loading">Loading signing keys…</p>}
      {keys && keys.length === 0 && page > 1 && <p class="muted">No more signing keys.</p>}
      {keys && keys.length === 0 && page === 1 && !creating && (
        <EmptyState title="No signing keys yet" icon="⚿"
          action={<button type="button" class="button button-primary" onClick={start}>Create your first signing key</button>}>
          You need one to sign the join tokens your participants connect with.
        </EmptyState>
      )}
      {keys && keys.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Signing keys in this environment</caption>
            <thead><tr><th scope="col">Signing key ID</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <td><code>{key.id}</code></td>
                  <td>{formatTime(key.created_at)}</td>
                  <td class="actions">
                    <button type="button" class="button button-danger-outline button-small" aria-label={`Delete signing key ${key.id}`}
                      onClick={() => { setDeleting(key.id); setCreating(false); }}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {keys && <Pager page={page} count={keys.length} label="Signing keys" onPage={setPage} />}
    </>
  );
}
