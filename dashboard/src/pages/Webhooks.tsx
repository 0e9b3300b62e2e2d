import { useEffect, useState } from 'preact/hooks';
import { dataOf, runRequest, type RestResponse, type WebhookDelivery, type WebhookEndpoint } from '../api';
import { CopyButton, EmptyState, ErrorNote, formatTime, PageHeader, Pager, PAGE_SIZE, RequestPanel, StatusBadge } from '../components';

function formatMs(ms: number | null | undefined): string {
  return ms ? formatTime(Math.floor(ms / 1000)) : '–';
}

/** An endpoint's recent deliveries, each with a way to send it again. */
function Deliveries({ environmentId, endpoint }: { environmentId: string; endpoint: WebhookEndpoint }) {
  const [deliveries, setDeliveries] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [resending, setResending] = useState<WebhookDelivery | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    runRequest(environmentId, { method: 'GET', path: `/system/v1/webhooks/${endpoint.id}/deliveries` })
      .then((response) => { if (current) { setDeliveries(dataOf<WebhookDelivery[]>(response)); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, endpoint.id, version]);
  const reload = () => setVersion((v) => v + 1);
  const onResent = (response: RestResponse) => {
    if (response.status === 202) setTimeout(() => { setResending(null); reload(); }, 800);
  };
  return (
    <section class="card" aria-label={`Deliveries to ${endpoint.url}`}>
      <div class="button-row">
        <h2>Recent deliveries</h2>
        <button type="button" class="button button-secondary button-small" onClick={reload}>Refresh</button>
      </div>
      <ErrorNote error={error} />
      {resending && (
        <RequestPanel environmentId={environmentId} title="Send a delivery again"
          request={{ method: 'POST', path: `/system/v1/webhooks/${endpoint.id}/deliveries/${resending.id}/resend` }} onResponse={onResent}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setResending(null)}>Cancel</button></div>}>
          <p class="muted">Queues <code>{resending.type}</code> of <code>{resending.object_id}</code> to be posted again now, signed afresh.</p>
        </RequestPanel>
      )}
      {deliveries === null && !error && <p class="loading">Loading deliveries…</p>}
      {deliveries && deliveries.length === 0 && <p class="muted">No deliveries yet: events of this environment (a space created, someone joining) are sent here from now on.</p>}
      {deliveries && deliveries.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Deliveries to this endpoint, newest first</caption>
            <thead><tr><th scope="col">Event</th><th scope="col">Object</th><th scope="col">Status</th><th scope="col">Response</th><th scope="col">Attempts</th><th scope="col">Time</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-delivery={d.id} data-event={d.event_id}>
                  <td><code>{d.type}</code></td>
                  <td><code>{d.object_id}</code></td>
                  <td><StatusBadge status={d.status} /></td>
                  <td title={d.last_error ?? undefined}>{d.last_response_status_code ?? (d.last_error ? 'no answer' : '–')}</td>
                  <td>{d.attempts}</td>
                  <td>{formatMs(d.last_attempt_at_ms ?? d.created_at_ms)}</td>
                  <td class="actions">
                    <button type="button" class="button button-secondary button-small" aria-label={`Send ${d.type} again`}
                      onClick={() => setResending(d)}>Send again</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function Webhooks({ environmentId }: { environmentId: string }) {
  const [endpoints, setEndpoints] = useState<WebhookEndpoint[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [url, setUrl] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [version, setVersion] = useState(0);

  useEffect(() => { setEndpoints(null); setPage(1); setCreating(false); setOpen(null); setDeleting(null); setShown(null); }, [environmentId]);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    runRequest(environmentId, { method: 'GET', path: `/system/v1/webhooks?limit=${PAGE_SIZE}&page=${page}` })
      .then((response) => { if (current) { setEndpoints(dataOf<WebhookEndpoint[]>(response)); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, page, version]);
  const reload = () => setVersion((v) => v + 1);

  const onCreated = (response: RestResponse) => {
    if (response.status === 201) {
      const endpoint = dataOf<WebhookEndpoint>(response);
      setCreating(false);
      setOpen(endpoint.id);
      if (page === 1) reload(); else setPage(1);
    }
  };
  const onDeleted = (response: RestResponse) => {
    if (response.status === 204) setTimeout(() => { setDeleting(null); setOpen(null); reload(); }, 600);
  };
  const start = () => { setCreating(true); setDeleting(null); setUrl(''); };
  const selected = endpoints?.find((e) => e.id === open) ?? null;

  return (
    <>
      <PageHeader title="Webhooks" description="Oriel posts this environment's events (spaces, participants, broadcasts, live streams) to each endpoint, signed with its secret in a Mux-Signature header, and retries for 24 hours until it answers 2xx.">
        {!creating && endpoints && endpoints.length > 0 && <button type="button" class="button button-primary" onClick={start}>Add endpoint</button>}
      </PageHeader>
      <ErrorNote error={error} />
      {creating && (
        <RequestPanel environmentId={environmentId} title="Add a webhook endpoint"
          request={{ method: 'POST', path: '/system/v1/webhooks', body: { url } }} onResponse={onCreated}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setCreating(false)}>Close</button></div>}>
          <label class="field">
            <span>URL</span>
            <input type="url" name="url" maxLength={2048} placeholder="https://app.example.com/mux-webhooks" value={url}
              onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          </label>
        </RequestPanel>
      )}
      {deleting && (
        <RequestPanel environmentId={environmentId} title="Remove webhook endpoint" danger
          request={{ method: 'DELETE', path: `/system/v1/webhooks/${deleting}` }} onResponse={onDeleted}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setDeleting(null)}>Cancel</button></div>}>
          <p class="muted">Its pending deliveries are dropped and no more events are sent to it.</p>
        </RequestPanel>
      )}
      {endpoints === null && !error && <p class="loading">Loading webhook endpoints…</p>}
      {endpoints && endpoints.length === 0 && page > 1 && <p class="muted">No more endpoints.</p>}
      {endpoints && endpoints.length === 0 && page === 1 && !creating && (
        <EmptyState title="No webhook endpoints yet" icon="↪"
          action={<button type="button" class="button button-primary" onClick={start}>Add your first endpoint</button>}>
          Your app learns what happens in its spaces from webhooks, e.g. to clean up a space once it goes idle.
        </EmptyState>
      )}
      {endpoints && endpoints.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Webhook endpoints in this environment</caption>
            <thead><tr><th scope="col">URL</th><th scope="col">Signing secret</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {endpoints.map((e) => (
                <tr key={e.id} data-endpoint={e.id} class={e.id === open ? 'selected' : undefined}>
                  <td><code>{e.url}</code><div class="muted"><code>{e.id}</code></div></td>
                  <td>
                    {shown === e.id
                      ? <><code class="secret-value" data-secret="signing_secret">{e.signing_secret}</code> <CopyButton value={e.signing_secret} /></>
                      : <button type="button" class="button button-secondary button-small" aria-label={`Show the secret of ${e.url}`} onClick={() => setShown(e.id)}>Show secret</button>}
                  </td>
                  <td>{formatTime(e.created_at)}</td>
                  <td class="actions">
                    <button type="button" class="button button-secondary button-small" aria-label={`Deliveries to ${e.url}`}
                      onClick={() => setOpen(open === e.id ? null : e.id)}>{open === e.id ? 'Hide deliveries' : 'Deliveries'}</button>
                    <button type="button" class="button button-danger-outline button-small" aria-label={`Remove ${e.url}`}
                      onClick={() => { setDeleting(e.id); setCreating(false); }}>Remove</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {endpoints && <Pager page={page} count={endpoints.length} label="Webhook endpoints" onPage={setPage} />}
      {selected && <Deliveries key={selected.id} environmentId={environmentId} endpoint={selected} />}
    </>
  );
}
