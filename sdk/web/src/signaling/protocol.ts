// The `/pluto/v1` signaling protocol as JSON on the wire (spec section 7): what the server
// sends, parsed into a discriminated union, and what the client sends.

import type { SignalingErrorFrame } from '../errors/signaling';

export interface WireTrack {
  tid: string;
  /** 1 audio, 2 video */
  type: number;
  name?: string;
  muted?: boolean;
  source?: string;
  width?: number;
  height?: number;
  metadata?: Record<string, unknown>;
}

export interface WireParticipant {
  connection_id: string;
  participant_id?: string;
  /** 1 publisher, 2 subscriber */
  role?: number;
  /** 1 connected, 2 disconnected, 3 reconnected */
  status?: number;
  display_name?: string;
  tracks: WireTrack[];
}

export interface WireEncoding {
  rid: string;
  max_bitrate?: number;
  scale_resolution_down_by?: number;
  max_framerate?: number;
}

export interface WireSimulcast {
  camera_encodings?: WireEncoding[];
  screenshare_encodings?: WireEncoding[];
}

export interface WireIceServer {
  urls: string[] | string;
  username?: string;
  credential?: string;
  credential_type?: string;
}

export interface WireLimits {
  custom_events_per_second: number;
  default_track_limit: number;
  seconds_per_set_display_name: number;
}

export interface SfuOffer {
  sfu_id: string;
  sdp: string;
}

export interface Joined {
  session_id: string;
  connection_id: string;
  participant_id: string;
  display_name: string;
  broadcasting: boolean;
  participants: WireParticipant[];
  sub_sfus: SfuOffer[];
  simulcast: WireSimulcast;
  ice_servers: WireIceServer[];
  limits: WireLimits;
}

export interface WireCandidate {
  candidate: string;
  sdp_mline_index: number | null;
  sdp_mid: string | null;
  username_fragment: string | null;
}

/** 1: a subscriber PC (named by `sfu_id`), 2: the publisher PC. */
export enum CandidateTarget {
  Subscriber = 1,
  Publisher = 2,
}

export interface CandidateMessage {
  candidate: WireCandidate;
  type: number;
  sfu_id: string;
}

export interface CustomEventWire {
  id: string;
  payload: string;
  scope: number;
  connection_id: string;
  sequence_num: number;
}

export interface TrackRef {
  connection_id: string;
  track: { tid: string };
}

export interface SubscriptionReply {
  successes: { connection_id: string }[];
  failures: { connection_id: string }[];
}

/** Every server message the SDK understands. */
export type ServerMessage =
  | { type: 'joined'; value: Joined }
  | { type: 'participant_connected'; value: WireParticipant }
  | { type: 'participant_disconnected'; value: { connection_id: string } }
  | { type: 'add_track'; value: { connection_id: string; track: WireTrack } }
  | { type: 'remove_track'; value: TrackRef }
  | { type: 'sub_offer'; value: SfuOffer }
  | { type: 'answer'; value: string }
  | { type: 'candidate'; value: CandidateMessage }
  | { type: 'track_muted'; value: TrackRef }
  | { type: 'track_unmuted'; value: TrackRef }
  | { type: 'pending_track_ack'; value: unknown }
  | { type: 'active_speakers'; value: { tracks: { connection_id: string; track_id: string }[] } }
  | { type: 'custom_event'; value: CustomEventWire; requestId?: string }
  | { type: 'participant_update'; value: { connection_id: string; display_name?: string }; requestId?: string }
  | { type: 'broadcast_state_update'; value: number }
  | { type: 'subscribe_tracks'; value: SubscriptionReply }
  | { type: 'unsubscribe_tracks'; value: SubscriptionReply }
  | { type: 'error'; value: SignalingErrorFrame };

export type ServerMessageType = ServerMessage['type'];

/** Client → server. */
export type ClientMessage =
  | { offer: string }
  | { sub_answer: SfuOffer }
  | { candidate: CandidateMessage }
  | {
      pending_track: {
        tid: string;
        type: number;
        name: string;
        muted: boolean;
        source: string;
        height: number;
        width: number;
        mid: string;
      };
    }
  | { mute_track: string }
  | { unmute_track: string }
  | { subscribe_tracks: { connections: { connection_id: string; track_ids: string[] }[] } }
  | { unsubscribe_tracks: { connections: { connection_id: string; track_ids: string[] }[] } }
  | { set_display_name: string; request_id: string }
  | { custom_event: { id: string; payload: string; scope: number }; request_id: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isTrack = (v: unknown): v is WireTrack => isObject(v) && isString(v.tid) && typeof v.type === 'number';
const isTrackRef = (v: unknown): v is TrackRef => isObject(v) && isString(v.connection_id) && isObject(v.track) && isString(v.track.tid);
const isParticipant = (v: unknown): v is WireParticipant =>
  isObject(v) && isString(v.connection_id) && Array.isArray(v.tracks) && v.tracks.every(isTrack);
const isSfuOffer = (v: unknown): v is SfuOffer => isObject(v) && isString(v.sfu_id) && isString(v.sdp);
const isReply = (v: unknown): v is SubscriptionReply =>
  isObject(v) && Array.isArray(v.successes) && Array.isArray(v.failures);

/** Order in which keys are looked for (the SDK's dispatch order). */
const KEYS: ServerMessageType[] = [
  'joined',
  'participant_connected',
  'participant_disconnected',
  'add_track',
  'remove_track',
  'sub_offer',
  'candidate',
  'answer',
  'track_muted',
  'track_unmuted',
  'pending_track_ack',
  'active_speakers',
  'custom_event',
  'participant_update',
  'broadcast_state_update',
  'subscribe_tracks',
  'unsubscribe_tracks',
  'error',
];

function validJoined(v: unknown): v is Joined {
  return (
    isObject(v) &&
    isString(v.connection_id) &&
    Array.isArray(v.participants) &&
    v.participants.every(isParticipant) &&
    (v.sub_sfus === undefined || (Array.isArray(v.sub_sfus) && v.sub_sfus.every(isSfuOffer)))
  );
}

/** Fills the optional parts of `joined` with safe defaults. */
function normalizeJoined(v: Joined): Joined {
  const limits: Partial<WireLimits> = isObject(v.limits) ? v.limits : {};
  return {
    session_id: isString(v.session_id) ? v.session_id : '',
    connection_id: v.connection_id,
    participant_id: isString(v.participant_id) ? v.participant_id : '',
    display_name: isString(v.display_name) ? v.display_name : '',
    broadcasting: v.broadcasting === true,
    participants: v.participants,
    sub_sfus: v.sub_sfus ?? [],
    simulcast: isObject(v.simulcast) ? v.simulcast : {},
    ice_servers: Array.isArray(v.ice_servers) ? v.ice_servers.filter((s) => isObject(s) && s.urls !== undefined) : [],
    limits: {
      custom_events_per_second: positive(limits.custom_events_per_second, 1),
      default_track_limit: positive(limits.default_track_limit, 2),
      seconds_per_set_display_name: positive(limits.seconds_per_set_display_name, 10),
    },
  };
}

const positive = (v: unknown, fallback: number): number => (typeof v === 'number' && v > 0 ? v : fallback);

/**
 * Parses one text frame. Returns null (and the reason) for anything that is not a message the
 * SDK understands, so that a malformed frame is logged and skipped, never thrown.
 */
export function parseServerMessage(text: string): { message: ServerMessage } | { ignored: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ignored: 'not JSON' };
  }
  if (!isObject(raw)) return { ignored: 'not an object' };
  const key = KEYS.find((k) => k in raw && raw[k] !== undefined && raw[k] !== null);
  if (!key) return { ignored: 'unknown message' };
  const value = raw[key];
  const requestId = isString(raw.request_id) && raw.request_id ? raw.request_id : undefined;
  const bad = { ignored: `malformed ${key}` };
  switch (key) {
    case 'joined':
      return validJoined(value) ? { message: { type: key, value: normalizeJoined(value) } } : bad;
    case 'participant_connected':
      return isParticipant(value) ? { message: { type: key, value } } : bad;
    case 'participant_disconnected':
      return isObject(value) && isString(value.connection_id)
        ? { message: { type: key, value: { connection_id: value.connection_id } } }
        : bad;
    case 'add_track':
      return isObject(value) && isString(value.connection_id) && isTrack(value.track)
        ? { message: { type: key, value: { connection_id: value.connection_id, track: value.track } } }
        : bad;
    case 'remove_track':
    case 'track_muted':
    case 'track_unmuted':
      return isTrackRef(value) ? { message: { type: key, value } } : bad;
    case 'sub_offer':
      return isSfuOffer(value) ? { message: { type: key, value } } : bad;
    case 'answer':
      return isString(value) && value ? { message: { type: key, value } } : bad;
    case 'candidate':
      return isObject(value) && isObject(value.candidate) && isString(value.candidate.candidate) && typeof value.type === 'number'
        ? { message: { type: key, value: value as unknown as CandidateMessage } }
        : bad;
    case 'pending_track_ack':
      return { message: { type: key, value } };
    case 'active_speakers':
      return isObject(value) && Array.isArray(value.tracks)
        ? {
            message: {
              type: key,
              value: {
                tracks: value.tracks.filter(
                  (t): t is { connection_id: string; track_id: string } =>
                    isObject(t) && isString(t.connection_id) && isString(t.track_id),
                ),
              },
            },
          }
        : bad;
    case 'custom_event':
      return isObject(value) && isString(value.payload) && isString(value.connection_id)
        ? { message: { type: key, value: value as unknown as CustomEventWire, requestId } }
        : bad;
    case 'participant_update':
      return isObject(value) && isString(value.connection_id)
        ? { message: { type: key, value: value as { connection_id: string; display_name?: string }, requestId } }
        : bad;
    case 'broadcast_state_update':
      return typeof value === 'number' ? { message: { type: key, value } } : bad;
    case 'subscribe_tracks':
    case 'unsubscribe_tracks':
      return isReply(value) ? { message: { type: key, value } } : bad;
    case 'error':
      return isObject(value) && typeof value.type === 'number'
        ? {
            message: {
              type: key,
              value: { ...(value as unknown as SignalingErrorFrame), message: isString(value.message) ? value.message : '' },
            },
          }
        : bad;
  }
}

/** RTCIceCandidateInit → wire. */
export function candidateToWire(c: RTCIceCandidateInit): WireCandidate {
  return {
    candidate: c.candidate ?? '',
    sdp_mline_index: c.sdpMLineIndex ?? null,
    sdp_mid: c.sdpMid ?? null,
    username_fragment: c.usernameFragment ?? null,
  };
}

/** wire → RTCIceCandidateInit. */
export function candidateFromWire(c: WireCandidate): RTCIceCandidateInit {
  const init: RTCIceCandidateInit = { candidate: c.candidate };
  if (typeof c.sdp_mline_index === 'number') init.sdpMLineIndex = c.sdp_mline_index;
  if (typeof c.sdp_mid === 'string') init.sdpMid = c.sdp_mid;
  if (typeof c.username_fragment === 'string') init.usernameFragment = c.username_fragment;
  return init;
}
