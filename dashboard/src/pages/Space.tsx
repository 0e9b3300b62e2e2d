import { useEffect, useState } from 'preact/hooks';
import { ApiError, mintJoinToken, spaceParticipants, spaceRatings, type ParticipantView, type RatingView, type Space as SpaceObject } from '../api';
import { CopyButton, ErrorNote, formatTime, Link, PageHeader, RequestPanel, StatusBadge } from '../components';
import { navigate } from '../router';
import { SpaceBroadcast } from './SpaceBroadcast';

const POLL_MS = 1000;

function kbps(bps: number): string {
  return bps >= 1_000_000 ? `${(bps / 1_000_000).toFixed(1)} Mbps` : `${Math.round(bps / 1000)} kbps`;
}

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
}

function Participants({ participants }: { participants: ParticipantView[] }) {
  if (participants.length === 0) {
    return <p class="empty-inline">Nobody is connected. Use <strong>Test join</strong> below to join from this browser.</p>;
  }
  return (
    <ul class="participants" aria-label="Participants">
      {participants.map((p) => (
        <li class="participant" key={p.connection_id} data-participant-id={p.participant_id}>
          <div class="participant-head">
            <span class="avatar" aria-hidden="true">{(p.display_name || p.participant_id).slice(0, 1).toUpperCase()}</span>
            <div class="participant-who">
              <strong>{p.display_name || p.participant_id}</strong>
              <span class="muted"><code>{p.participant_id}</code></span>
            </div>
            <span class={`badge badge-role`}>{p.role}</span>
            <span class={`badge badge-${p.state}`}>{p.state}</span>
            <span class="muted participant-time">{duration(p.connected_seconds)}</span>
          </div>
          {p.tracks.length > 0 ? (
            <table class="tracks">
              <caption class="visually-hidden">Tracks of {p.participant_id}</caption>
              <thead><tr><th scope="col">Track</th><th scope="col">Source</th><th scope="col">State</th><th scope="col">Layers</th><th scope="col">Subscribers</th></tr></thead>
              <tbody>
                {p.tracks.map((t) => (
                  <tr key={t.id} data-track-kind={t.kind}>
                    <td><span class={`kind kind-${t.kind}`}>{t.kind}</span> {t.width > 0 && <span class="muted">{t.width}×{t.height}</span>}</td>
                    <td>{t.source.replace('_', ' ')}</td>
                    <td>{t.muted ? <span class="badge badge-muted">muted</span> : <span class="badge badge-live">live</span>}</td>
                    <td>
                      {t.simulcast
                        ? <span class="layers">{t.layer_bitrates_bps.map((bps, i) => <span key={i} class={bps > 0 ? 'layer on' : 'layer'} title={`layer ${i}`}>{['q', 'h', 'f'][i] ?? i} {bps > 0 ? kbps(bps) : 'off'}</span>)}</span>
                        : <span class="muted">{t.layer_bitrates_bps[0] ? kbps(t.layer_bitrates_bps[0]) : 'single'}</span>}
                    </td>
                    <td>{t.subscribers}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p class="muted no-tracks">No published tracks{p.role === 'subscriber' ? ' (subscriber)' : ''}.</p>}
        </li>
      ))}
    </ul>
  );
}

const SCORE_NAMES = ['', 'bad', 'poor', 'fair', 'good', 'excellent'];

/** What participants said of their calls (the Mux SDK's `submitAcrScore`), newest first. */
function Ratings({ ratings }: { ratings: RatingView[] }) {
  if (ratings.length === 0) {
    return <p class="muted" data-testid="no-ratings">No ratings yet. Apps ask for one after a call with <code>space.submitAcrScore(1..5)</code>.</p>;
  }
  const average = ratings.reduce((sum, r) => sum + r.score, 0) / ratings.length;
  return (
    <>
      <p data-testid="rating-average">Average <strong>{average.toFixed(1)}</strong> of 5 over {ratings.length} rating{ratings.length === 1 ? '' : 's'}.</p>
      <table class="tracks" aria-label="Ratings">
        <thead><tr><th scope="col">Score</th><th scope="col">Participant</th><th scope="col">Session</th><th scope="col">When</th></tr></thead>
        <tbody>
          {ratings.map((r) => (
            <tr key={`${r.session_id}/${r.participant_id}`} data-participant-id={r.participant_id} data-score={r.score}>
              <td><strong>{r.score}</strong> <span class="muted">{SCORE_NAMES[r.score] ?? ''}</span></td>
              <td><code>{r.participant_id}</code></td>
              <td><code>{r.session_id}</code></td>
              <td>{formatTime(r.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function TestJoin({ environmentId, spaceId }: { environmentId: string; spaceId: string }) {
  const [role, setRole] = useState('publisher');
  const [participantId, setParticipantId] = useState('');
  const [expiry, setExpiry] = useState(3600);
  const [minted, setMinted] = useState<{ token: string; meeting_path: string; expires_at: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      setMinted(await mintJoinToken(environmentId, spaceId, {
        role, participant_id: participantId.trim() || undefined, expires_in_seconds: expiry,
      }));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section class="card" aria-labelledby="test-join-title">
      <h2 id="test-join-title">Test join</h2>
      <p class="muted">Mint a join token for this space, signed by a key the dashboard keeps for this environment, and open the meeting page with it.</p>
      <form class="inline-form" onSubmit={submit}>
        <label class="field">
          <span>Role</span>
          <select name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            <option value="publisher">publisher</option>
            <option value="subscriber">subscriber</option>
          </select>
        </label>
        <label class="field">
          <span>Participant ID <span class="muted">(optional)</span></span>
          <input type="text" name="participant_id" maxLength={255} value={participantId} placeholder="random if empty"
            onInput={(e) => setParticipantId((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          <span>Expires in</span>
          <select name="expires_in" value={String(expiry)} onChange={(e) => setExpiry(Number((e.target as HTMLSelectElement).value))}>
            <option value="900">15 minutes</option>
            <option value="3600">1 hour</option>
            <option value="86400">1 day</option>
            <option value="604800">7 days</option>
          </select>
        </label>
        <button type="submit" class="button button-primary">Create join token</button>
      </form>
      <ErrorNote error={error} />
      {minted && (
        <div class="minted" role="status">
          <div class="secret-row">
            <code class="secret-value" data-secret="join-token">{minted.token}</code>
            <CopyButton value={minted.token} />
          </div>
          <p class="muted">Expires {formatTime(minted.expires_at)}.</p>
          <a class="button button-primary" href={minted.meeting_path} target="_blank" rel="noopener">Open meeting page</a>
        </div>
      )}
    </section>
  );
}

export function Space({ environmentId, spaceId }: { environmentId: string; spaceId: string }) {
  const [space, setSpace] = useState<SpaceObject | null>(null);
  const [participants, setParticipants] = useState<ParticipantView[] | null>(null);
  const [ratings, setRatings] = useState<RatingView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  useEffect(() => {
    let stopped = false;
    let timer = 0;
    const poll = async () => {
      try {
        const [data, rated] = await Promise.all([spaceParticipants(environmentId, spaceId), spaceRatings(environmentId, spaceId)]);
        if (stopped) return;
        setSpace(data.space);
        setParticipants(data.participants);
        setRatings(rated);
        setError(null);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 404) { setMissing(true); return; }
        setError(e);
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, [environmentId, spaceId]);

  if (missing) {
    return (
      <>
        <PageHeader title="Space not found" />
        <p>There is no space <code>{spaceId}</code> in this environment. <Link href="/spaces">Back to spaces</Link></p>
      </>
    );
  }
  return (
    <>
      <nav class="breadcrumbs" aria-label="Breadcrumbs"><Link href="/spaces">Spaces</Link> <span aria-hidden="true">/</span> <span>{spaceId.slice(0, 10)}…</span></nav>
      <PageHeader title={space?.passthrough || 'Space'} description={<code class="space-id">{spaceId}</code>}>
        {space && <StatusBadge status={space.status} />}
      </PageHeader>
      <ErrorNote error={error} />
      {space && (
        <dl class="facts">
          <div><dt>Type</dt><dd>{space.type}</dd></div>
          <div><dt>Created</dt><dd>{formatTime(space.created_at)}</dd></div>
          <div><dt>Active session</dt><dd>{space.active_session_id ? <code>{space.active_session_id}</code> : '—'}</dd></div>
          <div><dt>Participants</dt><dd data-testid="participant-count">{participants?.length ?? 0}</dd></div>
        </dl>
      )}
      <section class="card" aria-labelledby="participants-title" aria-live="polite">
        <h2 id="participants-title">Live participants <span class="live-dot" aria-hidden="true" /></h2>
        {participants === null ? <p class="loading">Loading…</p> : <Participants participants={participants} />}
      </section>
      <section class="card" aria-labelledby="ratings-title">
        <h2 id="ratings-title">Call quality</h2>
        {ratings === null ? <p class="loading">Loading…</p> : <Ratings ratings={ratings} />}
      </section>
      <SpaceBroadcast environmentId={environmentId} spaceId={spaceId} />
      <TestJoin environmentId={environmentId} spaceId={spaceId} />
      <section class="card danger-zone" aria-labelledby="danger-title">
        <h2 id="danger-title">Delete this space</h2>
        <p class="muted">A space can be deleted only while nobody is connected.</p>
        {!confirmDelete
          ? <button type="button" class="button button-danger-outline" onClick={() => setConfirmDelete(true)}>Delete space…</button>
          : (
            <RequestPanel environmentId={environmentId} title="Delete space" danger
              request={{ method: 'DELETE', path: `/video/v1/spaces/${spaceId}` }}
              onResponse={(r) => { if (r.status === 204) setTimeout(() => navigate('/spaces'), 600); }} />
          )}
      </section>
    </>
  );
}
