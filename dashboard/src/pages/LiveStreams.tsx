import { useEffect, useState } from 'preact/hooks';
import { dataOf, runRequest, type LiveStream, type RestResponse } from '../api';
import { CopyButton, EmptyState, ErrorNote, formatTime, PageHeader, Pager, PAGE_SIZE, RequestPanel, StatusBadge } from '../components';
import { Player } from '../Player';

/** The HLS URL of a public playback id, on this node. */
function playbackUrl(playbackId: string): string {
  return `${location.origin}/hls/${playbackId}.m3u8`;
}

type Action = { title: string; method: string; path: string; body?: unknown; danger?: boolean; note?: string };

export function LiveStreams({ environmentId }: { environmentId: string }) {
  const [streams, setStreams] = useState<LiveStream[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [passthrough, setPassthrough] = useState('');
  const [latency, setLatency] = useState('standard');
  const [targetUrl, setTargetUrl] = useState('');
  const [targetKey, setTargetKey] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [page, setPage] = useState(1);
  // Bumped to load the current page again.
  const [version, setVersion] = useState(0);

  useEffect(() => { setStreams(null); setPage(1); setCreating(false); setOpen(null); setAction(null); }, [environmentId]);
  useEffect(() => {
    let current = true; // a slower, older answer must not overwrite a newer one
    const path = `/video/v1/live-streams?limit=${PAGE_SIZE}&page=${page}`;
    runRequest(environmentId, { method: 'GET', path })
      .then((response) => { if (current) { setStreams(dataOf<LiveStream[]>(response)); setError(null); } })
      .catch((e) => { if (current) setError(e); });
    return () => { current = false; };
  }, [environmentId, page, version]);
  const reload = () => setVersion((v) => v + 1);

  const body: Record<string, unknown> = { playback_policy: ['public'], latency_mode: latency };
  if (passthrough) body.passthrough = passthrough;
  if (targetUrl) body.simulcast_targets = [{ url: targetUrl, ...(targetKey ? { stream_key: targetKey } : {}) }];

  const onCreated = (response: RestResponse) => {
    if (response.status === 201) {
      const stream = dataOf<LiveStream>(response);
      setCreating(false);
      setOpen(stream.id);
      if (page === 1) reload(); else setPage(1);
    }
  };
  const onAction = (response: RestResponse) => {
    if (response.status < 300) setTimeout(() => { setAction(null); reload(); }, 600);
  };
  const startCreating = () => { setCreating(true); setAction(null); setPassthrough(''); setTargetUrl(''); setTargetKey(''); };
  const actionsOf = (s: LiveStream): Action[] => {
    const base = `/video/v1/live-streams/${s.id}`;
    return [
      s.status === 'disabled'
        ? { title: 'Enable live stream', method: 'PUT', path: `${base}/enable` }
        : { title: 'Disable live stream', method: 'PUT', path: `${base}/disable`, note: 'A disabled live stream refuses broadcasts until enabled again.' },
      { title: 'Complete live stream', method: 'PUT', path: `${base}/complete`, note: 'Ends the current recording: its playback URL then plays it whole.' },
      { title: 'Reset stream key', method: 'POST', path: `${base}/reset-stream-key` },
      { title: 'Delete live stream', method: 'DELETE', path: base, danger: true, note: 'Its playback ids stop playing and its recordings are removed.' },
    ];
  };

  return (
    <>
      <PageHeader title="Live streams" description="A live stream is where a broadcast sends a space: played over HLS from its playback URL and pushed over RTMP to its simulcast targets.">
        {streams && streams.length > 0 && !creating && <button type="button" class="button button-primary" onClick={startCreating}>Create live stream</button>}
      </PageHeader>
      <ErrorNote error={error} />
      {creating && (
        <RequestPanel environmentId={environmentId} title="Create a live stream"
          request={{ method: 'POST', path: '/video/v1/live-streams', body }} onResponse={onCreated}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setCreating(false)}>Close</button></div>}>
          <label class="field">
            <span>Passthrough <span class="muted">(optional)</span></span>
            <input type="text" name="passthrough" maxLength={255} value={passthrough} onInput={(e) => setPassthrough((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>Latency mode</span>
            <select name="latency_mode" value={latency} onChange={(e) => setLatency((e.target as HTMLSelectElement).value)}>
              <option value="standard">standard</option><option value="reduced">reduced</option><option value="low">low</option>
            </select>
          </label>
          <label class="field">
            <span>Simulcast target URL <span class="muted">(optional, rtmp:// or rtmps://)</span></span>
            <input type="text" name="target_url" value={targetUrl} placeholder="rtmp://a.rtmp.youtube.com/live2" onInput={(e) => setTargetUrl((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>Simulcast target stream key <span class="muted">(optional)</span></span>
            <input type="text" name="target_key" value={targetKey} onInput={(e) => setTargetKey((e.target as HTMLInputElement).value)} />
          </label>
        </RequestPanel>
      )}
      {action && (
        <RequestPanel environmentId={environmentId} title={action.title} danger={action.danger}
          request={{ method: action.method, path: action.path, ...(action.body !== undefined ? { body: action.body } : {}) }} onResponse={onAction}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setAction(null)}>Cancel</button></div>}>
          {action.note && <p class="muted">{action.note}</p>}
        </RequestPanel>
      )}
      {streams === null && !error && <p class="loading">Loading live streams…</p>}
      {streams && streams.length === 0 && page > 1 && <p class="muted">No more live streams.</p>}
      {streams && streams.length === 0 && page === 1 && !creating && (
        <EmptyState title="No live streams yet" icon="◉"
          action={<button type="button" class="button button-primary" onClick={startCreating}>Create your first live stream</button>}>
          Create a live stream, then add a broadcast to a space to send the meeting to it.
        </EmptyState>
      )}
      {streams && streams.length > 0 && (
        <div class="table-card">
          <table>
            <caption class="visually-hidden">Live streams in this environment</caption>
            <thead><tr><th scope="col">Live stream ID</th><th scope="col">Passthrough</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Details</span></th></tr></thead>
            <tbody>
              {streams.map((s) => (
                <>
                  <tr key={s.id}>
                    <td><code>{s.id}</code></td>
                    <td>{s.passthrough ?? <span class="muted">—</span>}</td>
                    <td><StatusBadge status={s.status} /></td>
                    <td>{formatTime(s.created_at)}</td>
                    <td class="actions">
                      <button type="button" class="button button-secondary button-small" aria-expanded={open === s.id}
                        aria-label={`Details of live stream ${s.id}`} onClick={() => setOpen(open === s.id ? null : s.id)}>
                        {open === s.id ? 'Hide' : 'Details'}
                      </button>
                    </td>
                  </tr>
                  {open === s.id && (
                    <tr key={`${s.id}-details`} class="details-row">
                      <td colSpan={5}>
                        <section class="stream-details" aria-label={`Live stream ${s.id}`}>
                          <div class="secret-field">
                            <span class="secret-label">Stream key</span>
                            <div class="secret-row"><code class="secret-value is-secret" data-secret="Stream key">{s.stream_key}</code><CopyButton value={s.stream_key} /></div>
                          </div>
                          {s.playback_ids.filter((p) => p.policy === 'public').map((p) => (
                            <div class="secret-field" key={p.id}>
                              <span class="secret-label">Playback URL</span>
                              <div class="secret-row"><code class="secret-value" data-playback-url>{playbackUrl(p.id)}</code><CopyButton value={playbackUrl(p.id)} /></div>
                            </div>
                          ))}
                          {s.status === 'active' && s.playback_ids.some((p) => p.policy === 'public') && (
                            <Player src={playbackUrl(s.playback_ids.find((p) => p.policy === 'public')!.id)} />
                          )}
                          <h3>Simulcast targets</h3>
                          {(s.simulcast_targets ?? []).length === 0 && <p class="muted">None: HLS only.</p>}
                          {(s.simulcast_targets ?? []).length > 0 && (
                            <ul class="targets">
                              {(s.simulcast_targets ?? []).map((t) => (
                                <li key={t.id}><code>{t.url}</code> <StatusBadge status={t.status} /></li>
                              ))}
                            </ul>
                          )}
                          <div class="button-row">
                            {actionsOf(s).map((a) => (
                              <button type="button" key={a.title} class={a.danger ? 'button button-danger-outline button-small' : 'button button-secondary button-small'}
                                onClick={() => { setAction(a); setCreating(false); }}>{a.title}</button>
                            ))}
                          </div>
                        </section>
                      </td>
                    </tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {streams && <Pager page={page} count={streams.length} label="Live streams" onPage={setPage} />}
    </>
  );
}
