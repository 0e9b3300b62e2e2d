import { useEffect, useState } from 'preact/hooks';
import { dataOf, runRequest, type Broadcast, type LiveStream, type RestResponse, type Space } from '../api';
import { ErrorNote, Link, RequestPanel, StatusBadge } from '../components';

const POLL_MS = 2000;
const LAYOUTS = ['gallery', 'active-speaker', 'crop'];
const RESOLUTIONS = ['1920x1080', '1280x720', '1080x1920', '720x1280', '1080x1080', '720x720'];

type Action = { title: string; method: string; path: string; danger?: boolean; note?: string };

/** A space's broadcast (Mux allows one): add it, start and stop it, delete it. */
export function SpaceBroadcast({ environmentId, spaceId }: { environmentId: string; spaceId: string }) {
  const [broadcast, setBroadcast] = useState<Broadcast | null | undefined>(undefined);
  const [streams, setStreams] = useState<LiveStream[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [adding, setAdding] = useState(false);
  const [liveStreamId, setLiveStreamId] = useState('');
  const [layout, setLayout] = useState('gallery');
  const [resolution, setResolution] = useState('1920x1080');
  const [action, setAction] = useState<Action | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer = 0;
    const poll = async () => {
      try {
        const space = dataOf<Space>(await runRequest(environmentId, { method: 'GET', path: `/video/v1/spaces/${spaceId}` }));
        if (stopped) return;
        setBroadcast(space.broadcasts?.[0] ?? null);
        setError(null);
      } catch (e) {
        if (!stopped) setError(e);
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, [environmentId, spaceId, version]);

  const startAdding = async () => {
    setAdding(true);
    setAction(null);
    try {
      const list = dataOf<LiveStream[]>(await runRequest(environmentId, { method: 'GET', path: '/video/v1/live-streams?limit=100' }));
      setStreams(list);
      setLiveStreamId(list[0]?.id ?? '');
    } catch (e) {
      setError(e);
    }
  };
  const refresh = (response: RestResponse) => {
    if (response.status < 300) setTimeout(() => { setAdding(false); setAction(null); setVersion((v) => v + 1); }, 600);
  };
  const base = broadcast ? `/video/v1/spaces/${spaceId}/broadcasts/${broadcast.id}` : '';

  return (
    <section class="card" aria-labelledby="broadcast-title">
      <h2 id="broadcast-title">Broadcast</h2>
      <p class="muted">A broadcast composes this space (layout, names, every participant's audio) into a live stream, played over HLS and pushed to its simulcast targets. It starts only while someone is connected and stops when the space goes idle.</p>
      <ErrorNote error={error} />
      {broadcast === undefined && <p class="loading">Loading…</p>}
      {broadcast === null && !adding && (
        <button type="button" class="button button-primary" onClick={startAdding}>Add a broadcast</button>
      )}
      {broadcast === null && adding && streams && streams.length === 0 && (
        <p>No live streams yet: <Link href="/live-streams">create one first</Link>.</p>
      )}
      {broadcast === null && adding && streams && streams.length > 0 && (
        <RequestPanel environmentId={environmentId} title="Add a broadcast"
          request={{ method: 'POST', path: `/video/v1/spaces/${spaceId}/broadcasts`, body: { live_stream_id: liveStreamId, layout, resolution } }}
          onResponse={refresh}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setAdding(false)}>Cancel</button></div>}>
          <label class="field">
            <span>Live stream</span>
            <select name="live_stream_id" value={liveStreamId} onChange={(e) => setLiveStreamId((e.target as HTMLSelectElement).value)}>
              {streams.map((s) => <option key={s.id} value={s.id}>{s.passthrough ? `${s.passthrough} (${s.id.slice(0, 8)}…)` : s.id}</option>)}
            </select>
          </label>
          <label class="field">
            <span>Layout</span>
            <select name="layout" value={layout} onChange={(e) => setLayout((e.target as HTMLSelectElement).value)}>
              {LAYOUTS.map((l) => <option key={l} value={l}>{l}</option>)}
            </select>
          </label>
          <label class="field">
            <span>Resolution</span>
            <select name="resolution" value={resolution} onChange={(e) => setResolution((e.target as HTMLSelectElement).value)}>
              {RESOLUTIONS.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </label>
        </RequestPanel>
      )}
      {broadcast && (
        <>
          <dl class="facts" aria-label="Broadcast">
            <div><dt>Broadcast</dt><dd><code>{broadcast.id}</code></dd></div>
            <div><dt>Status</dt><dd data-testid="broadcast-status"><StatusBadge status={broadcast.status} /></dd></div>
            <div><dt>Layout</dt><dd>{broadcast.layout}</dd></div>
            <div><dt>Resolution</dt><dd>{broadcast.resolution}</dd></div>
            <div><dt>Live stream</dt><dd><Link href="/live-streams"><code>{broadcast.live_stream_id}</code></Link></dd></div>
          </dl>
          <div class="button-row">
            {broadcast.status === 'idle'
              ? <button type="button" class="button button-primary button-small" onClick={() => setAction({ title: 'Start broadcast', method: 'POST', path: `${base}/start` })}>Start broadcast</button>
              : <button type="button" class="button button-secondary button-small" onClick={() => setAction({ title: 'Stop broadcast', method: 'POST', path: `${base}/stop`, note: 'The live stream goes idle and its recording is completed.' })}>Stop broadcast</button>}
            <button type="button" class="button button-danger-outline button-small" onClick={() => setAction({ title: 'Delete broadcast', method: 'DELETE', path: base, danger: true, note: 'Only an idle broadcast can be deleted.' })}>Delete broadcast</button>
          </div>
        </>
      )}
      {action && (
        <RequestPanel environmentId={environmentId} title={action.title} danger={action.danger}
          request={{ method: action.method, path: action.path }} onResponse={refresh}
          footer={<div class="panel-footer"><button type="button" class="button button-secondary button-small" onClick={() => setAction(null)}>Close</button></div>}>
          {action.note && <p class="muted">{action.note}</p>}
        </RequestPanel>
      )}
    </section>
  );
}
