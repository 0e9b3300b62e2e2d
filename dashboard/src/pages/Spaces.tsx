import { useEffect, useState } from 'preact/hooks';
import { dataOf, runRequest, type RestResponse, type Space } from '../api';
import { EmptyState, ErrorNote, formatTime, Link, PageHeader, Pager, PAGE_SIZE, RequestPanel, StatusBadge } from '../components';

export function Spaces({ environmentId }: { environmentId: string }) {
  const [spaces, setSpaces] = useState<Space[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [passthrough, setPassthrough] = useState('');
  const [created, setCreated] = useState<Space | null>(null);
  const [page, setPage] = useState(1);
  // Bumped to load the current page again.
  const [version, setVersion] = useState(0);

  useEffect(() => { setSpaces(null); setPage(1); setCreating(false); setCreated(null); }, [environmentId]);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    const path = `/video/v1/spaces?limit=${PAGE_SIZE}&page=${page}`;
    runRequest(environmentId, { method: 'GET', path })
      .then((response) => { if (current) { setSpaces(dataOf<Space[]>(response)); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, page, version]);

  const onCreated = (response: RestResponse) => {
    if (response.status === 201) {
      setCreated(dataOf<Space>(response));
      // Newest first: the new space is on the first page.
      if (page === 1) setVersion((v) => v + 1); else setPage(1);
    }
  };
  const startCreating = () => { setCreating(true); setCreated(null); setPassthrough(''); };
  const body = passthrough ? { passthrough } : {};

  return (
    <>
      <PageHeader title="Spaces" description="A space is where participants meet: they join it with a join token signed by one of your signing keys.">
        {spaces && spaces.length > 0 && !creating && <button type="button" class="button button-primary" onClick={startCreating}>Create space</button>}
      </PageHeader>
      <ErrorNote error={error} />
      {creating && (
        <RequestPanel environmentId={environmentId} title="Create a space"
          request={{ method: 'POST', path: '/video/v1/spaces', body }} onResponse={onCreated}
          footer={
            <div class="panel-footer">
              {created && (
                <p class="success-note" role="status">
                  Space created: <Link href={`/spaces/${created.id}`}><code>{created.id}</code></Link>
                </p>
              )}
              <button type="button" class="button button-secondary button-small" onClick={() => setCreating(false)}>Close</button>
            </div>
          }>
          <label class="field">
            <span>Passthrough <span class="muted">(optional, up to 255 characters, returned with the space)</span></span>
            <input type="text" name="passthrough" maxLength={255} value={passthrough} placeholder="my first space"
              onInput={(e) => setPassthrough((e.target as HTMLInputElement).value)} />
          </label>
        </RequestPanel>
      )}
      {spaces === null && !error && <p class="loading">Loading spaces…</p>}
      {spaces && spaces.length === 0 && page > 1 && <p class="muted">No more spaces.</p>}
      {spaces && spaces.length === 0 && page === 1 && !creating && (
        <EmptyState title="No spaces yet" icon="▣"
          action={<button type="button" class="button button-primary" onClick={startCreating}>Create your first space</button>}>
          Create a space, then join it from the meeting page or your app.
        </EmptyState>
      )}
      {spaces && spaces.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Spaces in this environment</caption>
            <thead><tr><th scope="col">Space ID</th><th scope="col">Passthrough</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
            <tbody>
              {spaces.map((space) => (
                <tr key={space.id}>
                  <td><Link href={`/spaces/${space.id}`} class="id-link"><code>{space.id}</code></Link></td>
                  <td>{space.passthrough ?? <span class="muted">—</span>}</td>
                  <td><StatusBadge status={space.status} /></td>
                  <td>{formatTime(space.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {spaces && <Pager page={page} count={spaces.length} label="Spaces" onPage={setPage} />}
    </>
  );
}
