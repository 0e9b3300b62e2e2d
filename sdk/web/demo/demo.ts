// Oriel's meeting page (GET /demo?token=JWT): a lobby with a camera preview, then a grid of
// participants with names, camera and microphone mute, screen sharing, a chat over custom
// events, the active speaker highlighted, and leave. It runs on the served SDK script
// (/sdk/spaces.js, the global `OrielSpaces`), like any application would.
//
// Address options: token=JWT, name=Display+Name, autojoin=1 (skip the lobby),
// camera=0 / mic=0 (join with them off).

import type * as Oriel from '../src/index';

declare const OrielSpaces: typeof Oriel;
const S = OrielSpaces;

type Space = Oriel.Space;
type LocalTrack = Oriel.LocalTrack;
type Track = Oriel.Track;
type Participant = Oriel.RemoteParticipant | Oriel.LocalParticipant;

// ------------------------------------------------------------------ small DOM helpers

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

function h<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

const svg = (body: string) =>
  `<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${body}</svg>`;

const ICONS = {
  mic: svg('<rect x="9" y="2.5" width="6" height="11.5" rx="3"/><path d="M5.5 10.5v.5a6.5 6.5 0 0 0 13 0v-.5M12 17.5V21M8.5 21h7"/>'),
  micOff: svg('<rect x="9" y="2.5" width="6" height="11.5" rx="3"/><path d="M5.5 10.5v.5a6.5 6.5 0 0 0 13 0v-.5M12 17.5V21M8.5 21h7M3.5 3.5l17 17"/>'),
  cam: svg('<rect x="2.5" y="6" width="13.5" height="12" rx="2.5"/><path d="M16 10.5l5.5-3.5v10l-5.5-3.5z"/>'),
  camOff: svg('<rect x="2.5" y="6" width="13.5" height="12" rx="2.5"/><path d="M16 10.5l5.5-3.5v10l-5.5-3.5zM3 3.5l17.5 17"/>'),
  screen: svg('<rect x="2.5" y="4" width="19" height="13" rx="2"/><path d="M8.5 21h7M12 17v4M12 13.5V8M9.5 10.5L12 8l2.5 2.5"/>'),
  chat: svg('<path d="M20.5 11.5a8 8 0 0 1-11.7 7.1L3.5 20l1.4-4.9A8 8 0 1 1 20.5 11.5z"/>'),
  leave: svg('<path d="M2.5 14.5c5.2-5 13.8-5 19 0l-2.6 2.6-3.7-1.9v-2.6a11.5 11.5 0 0 0-6.4 0v2.6l-3.7 1.9z"/>'),
  people: svg('<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0M16 4.8a3.5 3.5 0 0 1 0 6.4M18 14a6.5 6.5 0 0 1 3.5 6"/>'),
};

function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  return (words[0][0] + (words.length > 1 ? words[words.length - 1][0] : '')).toUpperCase();
}

/** A stable, pleasant hue per participant for avatars. */
function hue(key: string): number {
  let n = 0;
  for (const c of key) n = (n * 31 + c.charCodeAt(0)) % 360;
  return n;
}

function show(view: 'token-screen' | 'lobby' | 'meeting' | 'left'): void {
  for (const id of ['token-screen', 'lobby', 'meeting', 'left']) $(id).hidden = id !== view;
  $('app').dataset.view = view;
}

function claimsOf(token: string): { role?: string; participant_id?: string } {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part + '='.repeat((4 - (part.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

// ------------------------------------------------------------------ tiles

/** One tile of the grid: a participant's camera (or avatar), or a screen share. */
class Tile {
  readonly el = h('figure', 'tile');
  private readonly video = h('video');
  private readonly avatar = h('div', 'avatar');
  private readonly label = h('figcaption', 'caption');
  private readonly nameEl = h('span', 'name');
  private readonly micEl = h('span', 'mic');
  private track?: Track;

  constructor(
    readonly key: string,
    readonly kind: 'camera' | 'screen',
    readonly local: boolean,
  ) {
    this.el.dataset.key = key;
    this.el.classList.add(kind);
    if (local) this.el.classList.add('local');
    this.video.autoplay = true;
    this.video.muted = true; // sound plays from the audio sink
    this.video.playsInline = true;
    this.micEl.innerHTML = ICONS.micOff;
    this.micEl.hidden = true;
    this.label.append(this.micEl, this.nameEl);
    this.el.append(this.video, this.avatar, this.label);
    this.setVideo(undefined);
  }

  setName(name: string, hueKey: string): void {
    const shown = name || 'Guest';
    const text = this.kind === 'screen' ? `${shown}’s screen` : this.local ? `${shown} (you)` : shown;
    this.nameEl.textContent = text;
    this.el.dataset.name = shown;
    this.avatar.textContent = initials(shown);
    this.avatar.style.setProperty('--hue', String(hue(hueKey)));
  }

  setMicMuted(muted: boolean): void {
    this.micEl.hidden = !muted;
    this.el.classList.toggle('mic-muted', muted);
  }

  /** Shows `track` (or the avatar when there is none or it is muted). */
  setVideo(track: Track | undefined): void {
    if (this.track && this.track !== track) this.track.detach(this.video);
    this.track = track;
    if (track) track.attach(this.video);
    this.refresh();
  }

  refresh(): void {
    const on = !!this.track && this.track.hasMedia() && !this.track.isMuted();
    this.el.classList.toggle('has-video', on);
    this.video.hidden = !on;
    this.avatar.hidden = on;
    if (on) this.video.play().catch(() => {});
  }

  setSpeaking(speaking: boolean): void {
    this.el.classList.toggle('speaking', speaking);
  }

  remove(): void {
    this.track?.detach(this.video);
    this.el.remove();
  }
}

// ------------------------------------------------------------------ the meeting

interface Devices {
  mic?: LocalTrack;
  cam?: LocalTrack;
}

class Meeting {
  space?: Space;
  private tiles = new Map<string, Tile>();
  private audio = new Map<string, HTMLAudioElement>();
  private screen: LocalTrack[] = [];
  private unread = 0;
  private chatOpen = false;
  private toastTimer = 0;
  private left = false;
  /** Set once join() resolved: those already in arrive as "joined" before that, without a toast. */
  private inMeeting = false;

  constructor(
    private readonly token: string,
    private readonly devices: Devices,
  ) {}

  async join(displayName: string): Promise<void> {
    const space = new S.Space(this.token, { displayName: displayName || undefined, backendUrl: backendUrl() });
    this.space = space;
    this.listen(space);
    const local = await space.join();
    this.inMeeting = true;
    show('meeting');
    this.wireControls();
    this.addTile(local);
    const tracks = [this.devices.mic, this.devices.cam].filter((t): t is LocalTrack => !!t);
    if (local.role === S.ParticipantRole.Publisher && tracks.length > 0) await local.publishTracks(tracks);
    this.refreshLocal();
    this.layout();
  }

  // -------------------------------------------------------------- SDK events

  private listen(space: Space): void {
    const E = S.SpaceEvent;
    space.on(E.ParticipantJoined, (p) => {
      this.addTile(p);
      if (this.inMeeting) this.toast(`${p.displayName || 'A guest'} joined`);
      this.layout();
    });
    space.on(E.ParticipantLeft, (p) => {
      this.removeTiles(p);
      this.toast(`${p.displayName || 'A guest'} left`);
      this.layout();
    });
    space.on(E.ParticipantTrackPublished, (p, t) => {
      if (t.source === S.TrackSource.Screenshare) {
        this.screenTile(p);
        this.layout();
      }
      this.refreshMic(p);
    });
    space.on(E.ParticipantTrackUnpublished, (p, t) => {
      if (t.source === S.TrackSource.Screenshare) {
        this.tiles.get(`${p.connectionId}:screen`)?.remove();
        this.tiles.delete(`${p.connectionId}:screen`);
        if (p === this.space?.localParticipant) this.screenStopped();
        this.layout();
      }
      this.refreshMic(p);
    });
    space.on(E.ParticipantTrackSubscribed, (p, t) => this.mediaChanged(p, t));
    space.on(E.ParticipantTrackUnsubscribed, (p, t) => this.mediaChanged(p, t, true));
    space.on(E.ParticipantTrackMuted, (p) => this.refreshParticipant(p));
    space.on(E.ParticipantTrackUnmuted, (p) => this.refreshParticipant(p));
    space.on(E.ParticipantDisplayNameChanged, (p) => this.refreshParticipant(p));
    space.on(E.ActiveSpeakersChanged, (speakers) => {
      const speaking = new Set(speakers.map((s) => s.participant.connectionId));
      for (const tile of this.tiles.values()) {
        if (tile.kind === 'camera') tile.setSpeaking(speaking.has(tile.key));
      }
    });
    space.on(E.ParticipantCustomEventPublished, (p, event) => this.received(p, event.payload));
    space.on(E.LocalParticipantReconnecting, () => this.status('reconnecting', 'Reconnecting…'));
    space.on(E.LocalParticipantReconnected, (local) => {
      this.status('connected', 'Connected');
      // The local tile is keyed by connection id, which a reconnection changes.
      for (const [key, tile] of this.tiles) {
        if (tile.local) {
          tile.remove();
          this.tiles.delete(key);
        }
      }
      this.addTile(local);
      this.refreshLocal();
      this.layout();
    });
    space.on(E.LocalParticipantReconnectFailed, (error) => this.end('You were disconnected', error.message));
  }

  private addTile(p: Participant): Tile {
    let tile = this.tiles.get(p.connectionId);
    if (!tile) {
      const local = p === this.space?.localParticipant;
      tile = new Tile(p.connectionId, 'camera', local);
      this.tiles.set(p.connectionId, tile);
      $('grid').append(tile.el);
      if (local) tile.el.classList.add('mirrored');
    }
    tile.setName(p.displayName, p.id);
    if (p === this.space?.localParticipant) tile.setVideo(this.devices.cam);
    else {
      for (const t of p.getVideoTracks()) if (t.source !== S.TrackSource.Screenshare && t.hasMedia()) tile.setVideo(t);
      for (const t of p.getTracks()) if (t.source === S.TrackSource.Screenshare) this.screenTile(p);
    }
    this.refreshMic(p);
    return tile;
  }

  private screenTile(p: Participant): Tile {
    const key = `${p.connectionId}:screen`;
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = new Tile(key, 'screen', p === this.space?.localParticipant);
      this.tiles.set(key, tile);
      $('grid').prepend(tile.el);
    }
    tile.setName(p.displayName, p.id);
    const track = p.getVideoTracks().find((t) => t.source === S.TrackSource.Screenshare);
    if (track && track.hasMedia()) tile.setVideo(track);
    return tile;
  }

  private removeTiles(p: Participant): void {
    for (const key of [p.connectionId, `${p.connectionId}:screen`]) {
      this.tiles.get(key)?.remove();
      this.tiles.delete(key);
    }
    for (const t of p.getAudioTracks()) this.dropAudio(t.tid);
  }

  private mediaChanged(p: Oriel.RemoteParticipant, t: Oriel.RemoteTrack, gone = false): void {
    if (t.kind === S.TrackKind.Audio) {
      if (gone) this.dropAudio(t.tid);
      else {
        let el = this.audio.get(t.tid);
        if (!el) {
          el = h('audio');
          el.autoplay = true;
          el.dataset.tid = t.tid;
          $('audio-sink').append(el);
          this.audio.set(t.tid, el);
        }
        t.attach(el);
        el.play().catch(() => {});
      }
      return;
    }
    const tile = t.source === S.TrackSource.Screenshare ? this.screenTile(p) : this.addTile(p);
    tile.setVideo(gone ? undefined : t);
  }

  private dropAudio(tid: string): void {
    const el = this.audio.get(tid);
    if (!el) return;
    el.srcObject = null;
    el.remove();
    this.audio.delete(tid);
  }

  private refreshParticipant(p: Participant): void {
    const tile = this.tiles.get(p.connectionId);
    if (tile) {
      tile.setName(p.displayName, p.id);
      tile.refresh();
    }
    const screen = this.tiles.get(`${p.connectionId}:screen`);
    if (screen) {
      screen.setName(p.displayName, p.id);
      screen.refresh();
    }
    this.refreshMic(p);
  }

  private refreshMic(p: Participant): void {
    const tile = this.tiles.get(p.connectionId);
    if (!tile) return;
    const mics = p.getAudioTracks().filter((t) => t.source === S.TrackSource.Microphone);
    tile.setMicMuted(mics.length === 0 || mics.every((t) => t.isMuted()));
  }

  /** The local tile and the control buttons, after a local change. */
  private refreshLocal(): void {
    const local = this.space?.localParticipant;
    if (!local) return;
    const mic = this.devices.mic;
    const cam = this.devices.cam;
    const published = (t: LocalTrack | undefined): t is LocalTrack => !!t && local.getTracks().includes(t);
    const micOn = published(mic) && !mic.isMuted();
    const camOn = published(cam) && !cam.isMuted();
    this.control('mic-button', micOn ? ICONS.mic : ICONS.micOff, micOn ? 'Mute' : 'Unmute', !micOn);
    this.control('cam-button', camOn ? ICONS.cam : ICONS.camOff, camOn ? 'Stop video' : 'Start video', !camOn);
    const sharing = this.screen.length > 0;
    this.control('screen-button', ICONS.screen, sharing ? 'Stop sharing' : 'Share screen', sharing);
    const subscriber = local.role === S.ParticipantRole.Subscriber;
    for (const id of ['mic-button', 'cam-button', 'screen-button']) ($(id) as HTMLButtonElement).disabled = subscriber;
    const tile = this.tiles.get(local.connectionId);
    if (tile) {
      tile.setVideo(cam);
      tile.setMicMuted(!micOn);
    }
  }

  private control(id: string, icon: string, label: string, pressed: boolean): void {
    const button = $(id);
    button.querySelector('.icon')!.innerHTML = icon;
    button.querySelector('.label')!.textContent = label;
    button.setAttribute('aria-pressed', String(pressed));
    button.title = label;
  }

  // -------------------------------------------------------------- controls

  private wireControls(): void {
    $('mic-button').onclick = () => void this.toggle('mic');
    $('cam-button').onclick = () => void this.toggle('cam');
    $('screen-button').onclick = () => void this.toggleScreen();
    $('chat-button').onclick = () => this.openChat(!this.chatOpen);
    $('chat-close').onclick = () => this.openChat(false);
    $('leave-button').onclick = () => this.leave();
    $('chat-button').querySelector('.icon')!.innerHTML = ICONS.chat;
    $('leave-button').querySelector('.icon')!.innerHTML = ICONS.leave;
    $('count').innerHTML = `${ICONS.people}<span id="count-n">1</span>`;
    $<HTMLFormElement>('composer').onsubmit = (e) => {
      e.preventDefault();
      void this.send();
    };
  }

  private async toggle(which: 'mic' | 'cam'): Promise<void> {
    const local = this.space?.localParticipant;
    if (!local) return;
    const track = this.devices[which];
    try {
      if (!track || track.track.readyState === 'ended') {
        // Not captured (refused at first, or never asked): ask now and publish.
        const [captured] = await S.getUserMedia(which === 'mic' ? { audio: true, video: false } : { audio: false, video: true });
        this.devices[which] = captured;
        await local.publishTracks([captured]);
      } else if (!local.getTracks().includes(track)) {
        await local.publishTracks([track]);
      } else if (track.isMuted()) {
        track.unMute();
      } else {
        track.mute();
      }
    } catch (e) {
      this.toast(`${which === 'mic' ? 'Microphone' : 'Camera'}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.refreshLocal();
  }

  private async toggleScreen(): Promise<void> {
    const local = this.space?.localParticipant;
    if (!local) return;
    if (this.screen.length > 0) {
      local.unpublishTracks(this.screen);
      this.screenStopped();
      return;
    }
    try {
      this.screen = await S.getDisplayMedia({ video: true, audio: false });
      await local.publishTracks(this.screen);
    } catch (e) {
      this.screen = [];
      if (!(e instanceof DOMException && e.name === 'NotAllowedError')) {
        this.toast(`Screen sharing: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.refreshLocal();
  }

  private screenStopped(): void {
    this.screen = [];
    this.refreshLocal();
  }

  private leave(): void {
    this.left = true;
    this.space?.leave();
    for (const tile of this.tiles.values()) tile.remove();
    this.tiles.clear();
    for (const tid of [...this.audio.keys()]) this.dropAudio(tid);
    this.devices.mic = undefined;
    this.devices.cam = undefined;
    show('left');
    $('left-title').textContent = 'You left the meeting';
    $('left-detail').textContent = '';
  }

  private end(title: string, detail: string): void {
    if (this.left) return;
    this.leave();
    $('left-title').textContent = title;
    $('left-detail').textContent = detail;
  }

  // -------------------------------------------------------------- chat

  private openChat(open: boolean): void {
    this.chatOpen = open;
    $('chat').hidden = !open;
    $('chat-button').setAttribute('aria-pressed', String(open));
    $('meeting').classList.toggle('chat-open', open);
    if (open) {
      this.unread = 0;
      $('unread').hidden = true;
      $('chat-input').focus();
    }
    this.layout();
  }

  private async send(): Promise<void> {
    const input = $<HTMLInputElement>('chat-input');
    const text = input.value.trim();
    const local = this.space?.localParticipant;
    if (!text || !local) return;
    input.value = '';
    try {
      await local.publishCustomEvent(JSON.stringify({ type: 'chat', text }));
    } catch (e) {
      input.value = text;
      this.toast(`Not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private received(p: Participant, payload: string): void {
    let text: string;
    try {
      const parsed = JSON.parse(payload);
      if (parsed?.type !== 'chat' || typeof parsed.text !== 'string') return;
      text = parsed.text;
    } catch {
      return;
    }
    const mine = p === this.space?.localParticipant;
    const item = h('li', mine ? 'message mine' : 'message');
    const meta = h('div', 'meta');
    meta.append(h('span', 'author', mine ? 'You' : p.displayName || 'Guest'), h('time', '', new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    item.append(meta, h('p', 'text', text));
    const list = $('messages');
    list.append(item);
    list.scrollTop = list.scrollHeight;
    if (!this.chatOpen && !mine) {
      this.unread++;
      const badge = $('unread');
      badge.textContent = String(this.unread);
      badge.hidden = false;
    }
  }

  // -------------------------------------------------------------- layout and status

  /** Sizes the tiles: the column count that makes them largest at 16:9, rows centred. */
  layout(): void {
    const grid = $('grid');
    const n = Math.max(1, grid.children.length);
    const gap = 12;
    const { width, height } = grid.getBoundingClientRect();
    let best = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min((width - gap * (cols - 1)) / cols, (((height - gap * (rows - 1)) / rows) * 16) / 9);
      best = Math.max(best, w);
    }
    grid.style.setProperty('--tile-w', `${Math.max(120, Math.floor(best))}px`);
    const people = [...this.tiles.values()].filter((t) => t.kind === 'camera').length;
    const count = document.getElementById('count-n');
    if (count) count.textContent = String(people);
  }

  private status(state: 'connected' | 'reconnecting', text: string): void {
    $('status').dataset.state = state;
    $('status-text').textContent = text;
  }

  private toast(text: string): void {
    const el = $('toast');
    el.textContent = text;
    el.hidden = false;
    window.clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => (el.hidden = true), 3000);
  }
}

// ------------------------------------------------------------------ lobby

/** The Oriel this page came from (the SDK would find it from its script too). */
function backendUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/pluto`;
}

async function lobby(token: string): Promise<void> {
  const params = new URLSearchParams(location.search);
  const claims = claimsOf(token);
  const subscriber = claims.role === 'subscriber';
  const devices: Devices = {};
  const nameInput = $<HTMLInputElement>('name-input');
  nameInput.value = params.get('name') ?? localStorage.getItem('oriel-demo-name') ?? '';
  $('lobby-role').textContent = subscriber
    ? 'Your token lets you watch and listen; it cannot publish.'
    : 'Check your camera and microphone, and tell the others who you are.';
  show('lobby');

  const preview = $<HTMLVideoElement>('preview-video');
  const micButton = $('preview-mic');
  const camButton = $('preview-cam');
  const refresh = () => {
    const camOn = !!devices.cam && !devices.cam.isMuted();
    const micOn = !!devices.mic && !devices.mic.isMuted();
    $('preview-off').hidden = camOn;
    preview.hidden = !camOn;
    camButton.innerHTML = camOn ? ICONS.cam : ICONS.camOff;
    micButton.innerHTML = micOn ? ICONS.mic : ICONS.micOff;
    camButton.setAttribute('aria-pressed', String(camOn));
    micButton.setAttribute('aria-pressed', String(micOn));
    camButton.classList.toggle('off', !camOn);
    micButton.classList.toggle('off', !micOn);
  };
  if (!subscriber) {
    try {
      for (const t of await S.getUserMedia({ audio: true, video: true })) {
        if (t.kind === S.TrackKind.Audio) devices.mic = t;
        else devices.cam = t;
      }
    } catch (e) {
      $('lobby-error').textContent = `No camera or microphone: ${e instanceof Error ? e.message : String(e)}. You can still join.`;
    }
    if (params.get('camera') === '0') devices.cam?.mute();
    if (params.get('mic') === '0') devices.mic?.mute();
    devices.cam?.attach(preview);
  } else {
    micButton.hidden = true;
    camButton.hidden = true;
  }
  micButton.onclick = () => {
    if (devices.mic) devices.mic.isMuted() ? devices.mic.unMute() : devices.mic.mute();
    refresh();
  };
  camButton.onclick = () => {
    if (devices.cam) devices.cam.isMuted() ? devices.cam.unMute() : devices.cam.mute();
    refresh();
  };
  refresh();

  const start = async () => {
    const button = $<HTMLButtonElement>('join-button');
    button.disabled = true;
    button.textContent = 'Joining…';
    $('lobby-error').textContent = '';
    const name = nameInput.value.trim();
    localStorage.setItem('oriel-demo-name', name);
    const meeting = new Meeting(token, devices);
    (window as any).orielDemo = meeting;
    try {
      devices.cam?.detach(preview);
      await meeting.join(name);
      window.addEventListener('resize', () => meeting.layout());
    } catch (e) {
      meeting.space?.leave();
      devices.cam?.attach(preview);
      show('lobby');
      $('lobby-error').textContent = `Could not join: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      button.disabled = false;
      button.textContent = 'Join now';
    }
  };
  $<HTMLFormElement>('lobby-form').onsubmit = (e) => {
    e.preventDefault();
    void start();
  };
  $('rejoin-button').onclick = () => location.reload();
  // Disabled in the markup until here, so that an early click cannot submit the form natively.
  $<HTMLButtonElement>('join-button').disabled = false;
  if (params.get('autojoin') === '1') await start();
}

function main(): void {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  if (token) {
    void lobby(token);
    return;
  }
  show('token-screen');
  $<HTMLFormElement>('token-form').onsubmit = (e) => {
    e.preventDefault();
    const value = $<HTMLTextAreaElement>('token-input').value.trim();
    if (!value) return;
    params.set('token', value);
    location.search = params.toString();
  };
}

main();
