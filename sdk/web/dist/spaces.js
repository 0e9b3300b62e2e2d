// Oriel Spaces Web SDK 0.1.0: the API of @mux/spaces-web 1.2.0 as the global `OrielSpaces`.
// Built from sdk/web by `npm run build` (esbuild); do not edit: change the sources and rebuild.
"use strict";
var OrielSpaces = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __name = (target, value) => __defProp(target, "name", { value, configurable: true });
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // src/index.ts
  var index_exports = {};
  __export(index_exports, {
    AcrError: () => AcrError,
    AcrScore: () => AcrScore,
    ConnectionError: () => ConnectionError,
    CustomEventScope: () => CustomEventScope,
    DisconnectedError: () => DisconnectedError,
    InternalError: () => InternalError,
    InvalidProtocolError: () => InvalidProtocolError,
    JWTError: () => JWTError,
    LocalParticipant: () => LocalParticipant,
    LocalTrack: () => LocalTrack,
    MuxError: () => MuxError,
    ParticipantEvent: () => ParticipantEvent,
    ParticipantRole: () => ParticipantRole,
    ParticipantStatus: () => ParticipantStatus,
    PublishCustomEventError: () => PublishCustomEventError,
    PublishTrackError: () => PublishTrackError,
    RemoteParticipant: () => RemoteParticipant,
    RemoteTrack: () => RemoteTrack,
    RequestTimeoutError: () => RequestTimeoutError,
    SetDisplayNameError: () => SetDisplayNameError,
    Space: () => Space,
    SpaceEvent: () => SpaceEvent,
    SpaceOptionsError: () => SpaceOptionsError,
    SubscriptionError: () => SubscriptionError,
    SubscriptionMode: () => SubscriptionMode,
    Track: () => Track,
    TrackEvent: () => TrackEvent,
    TrackKind: () => TrackKind,
    TrackSource: () => TrackSource,
    UnpublishTrackError: () => UnpublishTrackError,
    UpdateTrackError: () => UpdateTrackError,
    WebsocketError: () => WebsocketError,
    getDisplayMedia: () => getDisplayMedia,
    getLocalTracksFromMediaStream: () => getLocalTracksFromMediaStream,
    getUserMedia: () => getUserMedia,
    version: () => version
  });

  // src/emitter.ts
  var _TypedEventEmitter = class _TypedEventEmitter {
    constructor() {
      this.registrations = /* @__PURE__ */ new Map();
      this.maxListeners = 10;
    }
    /** Adds `listener` for `event`. */
    on(event, listener) {
      return this.register(event, listener, false, false);
    }
    /** Same as {@link on}. */
    addListener(event, listener) {
      return this.register(event, listener, false, false);
    }
    /** Adds `listener` for the next `event` only. */
    once(event, listener) {
      return this.register(event, listener, true, false);
    }
    /** Adds `listener` before the others of `event`. */
    prependListener(event, listener) {
      return this.register(event, listener, false, true);
    }
    /** Adds a one-time `listener` before the others of `event`. */
    prependOnceListener(event, listener) {
      return this.register(event, listener, true, true);
    }
    /** Removes the most recently added registration of `listener` for `event`. */
    off(event, listener) {
      const list = this.registrations.get(event);
      if (!list) return this;
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].fn === listener) {
          list.splice(i, 1);
          break;
        }
      }
      if (list.length === 0) this.registrations.delete(event);
      return this;
    }
    /** Same as {@link off}. */
    removeListener(event, listener) {
      return this.off(event, listener);
    }
    /** Removes every listener of `event`, or of every event. */
    removeAllListeners(event) {
      if (event === void 0) this.registrations.clear();
      else this.registrations.delete(event);
      return this;
    }
    /** Calls the listeners of `event` in order; true if there were any. */
    emit(event, ...args) {
      const list = this.registrations.get(event);
      if (!list || list.length === 0) return false;
      for (const registration of [...list]) {
        if (registration.once) this.off(event, registration.fn);
        try {
          registration.fn.apply(this, args);
        } catch (error) {
          setTimeout(() => {
            throw error;
          }, 0);
        }
      }
      return true;
    }
    /** The listeners of `event`. */
    listeners(event) {
      return (this.registrations.get(event) ?? []).map((r) => r.fn);
    }
    /** Same as {@link listeners}. */
    rawListeners(event) {
      return this.listeners(event);
    }
    /** How many listeners `event` has. */
    listenerCount(event) {
      return this.registrations.get(event)?.length ?? 0;
    }
    /** The events that have listeners. */
    eventNames() {
      return [...this.registrations.keys()];
    }
    /** Above this many listeners per event a warning is logged (0: never). */
    setMaxListeners(n) {
      this.maxListeners = n;
      return this;
    }
    getMaxListeners() {
      return this.maxListeners;
    }
    register(event, listener, once, prepend) {
      if (typeof listener !== "function") {
        throw new TypeError(`The "listener" argument must be of type Function. Received type ${typeof listener}`);
      }
      let list = this.registrations.get(event);
      if (!list) {
        list = [];
        this.registrations.set(event, list);
      }
      const registration = { fn: listener, once };
      if (prepend) list.unshift(registration);
      else list.push(registration);
      if (this.maxListeners > 0 && list.length === this.maxListeners + 1) {
        console.warn(`Possible EventEmitter memory leak detected. ${list.length} ${String(event)} listeners added.`);
      }
      return this;
    }
  };
  __name(_TypedEventEmitter, "TypedEventEmitter");
  var TypedEventEmitter = _TypedEventEmitter;

  // src/errors/muxError.ts
  var _MuxError = class _MuxError extends Error {
    constructor(message, code = 0) {
      super(message);
      Object.defineProperty(this, "name", { value: new.target.name, enumerable: false, configurable: true, writable: true });
      Object.setPrototypeOf(this, new.target.prototype);
      this.code = code;
    }
  };
  __name(_MuxError, "MuxError");
  var MuxError = _MuxError;

  // src/errors/externalErrors.ts
  var _JWTError = class _JWTError extends MuxError {
  };
  __name(_JWTError, "JWTError");
  var JWTError = _JWTError;
  var _InternalError = class _InternalError extends MuxError {
  };
  __name(_InternalError, "InternalError");
  var InternalError = _InternalError;
  var _SpaceOptionsError = class _SpaceOptionsError extends MuxError {
  };
  __name(_SpaceOptionsError, "SpaceOptionsError");
  var SpaceOptionsError = _SpaceOptionsError;
  var _ConnectionError = class _ConnectionError extends MuxError {
  };
  __name(_ConnectionError, "ConnectionError");
  var ConnectionError = _ConnectionError;
  var _DisconnectedError = class _DisconnectedError extends MuxError {
  };
  __name(_DisconnectedError, "DisconnectedError");
  var DisconnectedError = _DisconnectedError;
  var _WebsocketError = class _WebsocketError extends MuxError {
  };
  __name(_WebsocketError, "WebsocketError");
  var WebsocketError = _WebsocketError;
  var _PublishCustomEventError = class _PublishCustomEventError extends MuxError {
  };
  __name(_PublishCustomEventError, "PublishCustomEventError");
  var PublishCustomEventError = _PublishCustomEventError;
  var _PublishTrackError = class _PublishTrackError extends MuxError {
  };
  __name(_PublishTrackError, "PublishTrackError");
  var PublishTrackError = _PublishTrackError;
  var _UnpublishTrackError = class _UnpublishTrackError extends MuxError {
  };
  __name(_UnpublishTrackError, "UnpublishTrackError");
  var UnpublishTrackError = _UnpublishTrackError;
  var _UpdateTrackError = class _UpdateTrackError extends MuxError {
  };
  __name(_UpdateTrackError, "UpdateTrackError");
  var UpdateTrackError = _UpdateTrackError;
  var _SubscriptionError = class _SubscriptionError extends MuxError {
  };
  __name(_SubscriptionError, "SubscriptionError");
  var SubscriptionError = _SubscriptionError;
  var _RequestTimeoutError = class _RequestTimeoutError extends MuxError {
  };
  __name(_RequestTimeoutError, "RequestTimeoutError");
  var RequestTimeoutError = _RequestTimeoutError;
  var _AcrError = class _AcrError extends MuxError {
  };
  __name(_AcrError, "AcrError");
  var AcrError = _AcrError;
  var _SetDisplayNameError = class _SetDisplayNameError extends MuxError {
  };
  __name(_SetDisplayNameError, "SetDisplayNameError");
  var SetDisplayNameError = _SetDisplayNameError;
  var _InvalidProtocolError = class _InvalidProtocolError extends MuxError {
  };
  __name(_InvalidProtocolError, "InvalidProtocolError");
  var InvalidProtocolError = _InvalidProtocolError;

  // src/errors/signaling.ts
  function joinError(frame) {
    const message = frame.message || "the server refused the connection";
    switch (frame.type) {
      case 6 /* InvalidJWT */:
      case 3 /* DuplicateParticipantRejected */:
        return new JWTError(message, frame.type);
      case 7 /* ParticipantLimitReached */:
        return new ConnectionError(message, frame.type);
      default:
        return new InternalError(message, frame.type);
    }
  }
  __name(joinError, "joinError");
  function requestError(frame) {
    const message = frame.message || "the server refused the request";
    switch (frame.type) {
      case 5 /* CustomEventError */:
      case 6 /* CustomEventRateLimited */:
        return new PublishCustomEventError(message, frame.type);
      case 7 /* SetDisplayNameError */:
      case 8 /* SetDisplayNameRateLimited */:
        return new SetDisplayNameError(message, frame.type);
      case 3 /* SubscribeTracksError */:
      case 4 /* UnsubscribeTracksError */:
        return new SubscriptionError(message, frame.type);
      case 9 /* InvalidProtocolVersion */:
        return new InvalidProtocolError(message, frame.type);
      default:
        return new InternalError(message, frame.type);
    }
  }
  __name(requestError, "requestError");

  // src/runtime.ts
  var g = globalThis;
  function uuid() {
    const c = g.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch {
      }
    }
    const bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
    else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = bytes[6] & 15 | 64;
    bytes[8] = bytes[8] & 63 | 128;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  __name(uuid, "uuid");
  var defaultRuntime = {
    createWebSocket(url) {
      if (typeof g.WebSocket !== "function") throw new Error("WebSocket is not available");
      return new g.WebSocket(url);
    },
    createPeerConnection(config) {
      if (typeof g.RTCPeerConnection !== "function") throw new Error("RTCPeerConnection is not available");
      return new g.RTCPeerConnection(config);
    },
    setTimeout: /* @__PURE__ */ __name((fn, ms) => g.setTimeout(fn, ms), "setTimeout"),
    clearTimeout: /* @__PURE__ */ __name((handle) => g.clearTimeout(handle), "clearTimeout"),
    uuid
  };
  function windowValue(name) {
    return typeof g.window === "object" && g.window ? g.window[name] : g[name];
  }
  __name(windowValue, "windowValue");

  // src/logger.ts
  var _Logger = class _Logger {
    constructor(scope) {
      this.scope = scope;
    }
    debug(message, ...args) {
      if (windowValue("VERBOSE_LOGGING") === true) console.debug(`[oriel ${this.scope}] ${message}`, ...args);
    }
    info(message, ...args) {
      if (windowValue("VERBOSE_LOGGING") === true) console.info(`[oriel ${this.scope}] ${message}`, ...args);
    }
    warn(message, ...args) {
      console.warn(`[oriel ${this.scope}] ${message}`, ...args);
    }
    error(message, ...args) {
      console.error(`[oriel ${this.scope}] ${message}`, ...args);
    }
  };
  __name(_Logger, "Logger");
  var Logger = _Logger;

  // src/participant/enums.ts
  var ParticipantRole = /* @__PURE__ */ ((ParticipantRole2) => {
    ParticipantRole2[ParticipantRole2["Publisher"] = 1] = "Publisher";
    ParticipantRole2[ParticipantRole2["Subscriber"] = 2] = "Subscriber";
    return ParticipantRole2;
  })(ParticipantRole || {});
  var ParticipantStatus = /* @__PURE__ */ ((ParticipantStatus2) => {
    ParticipantStatus2[ParticipantStatus2["Connected"] = 1] = "Connected";
    ParticipantStatus2[ParticipantStatus2["Disconnected"] = 2] = "Disconnected";
    ParticipantStatus2[ParticipantStatus2["Reconnected"] = 3] = "Reconnected";
    return ParticipantStatus2;
  })(ParticipantStatus || {});

  // src/participant/events.ts
  var ParticipantEvent = /* @__PURE__ */ ((ParticipantEvent2) => {
    ParticipantEvent2["TrackMuted"] = "TrackMuted";
    ParticipantEvent2["TrackUnmuted"] = "TrackUnmuted";
    ParticipantEvent2["TrackPublished"] = "TrackPublished";
    ParticipantEvent2["TrackUnpublished"] = "TrackUnpublished";
    ParticipantEvent2["TrackSubscribed"] = "TrackSubscribed";
    ParticipantEvent2["TrackUnsubscribed"] = "TrackUnsubscribed";
    ParticipantEvent2["StartedSpeaking"] = "StartedSpeaking";
    ParticipantEvent2["StoppedSpeaking"] = "StoppedSpeaking";
    ParticipantEvent2["CustomEventPublished"] = "CustomEventPublished";
    ParticipantEvent2["DisplayNameChanged"] = "DisplayNameChanged";
    return ParticipantEvent2;
  })(ParticipantEvent || {});

  // src/track/enums.ts
  var TrackKind = /* @__PURE__ */ ((TrackKind2) => {
    TrackKind2[TrackKind2["Audio"] = 1] = "Audio";
    TrackKind2[TrackKind2["Video"] = 2] = "Video";
    return TrackKind2;
  })(TrackKind || {});
  var TrackSource = /* @__PURE__ */ ((TrackSource2) => {
    TrackSource2["Camera"] = "camera";
    TrackSource2["Microphone"] = "microphone";
    TrackSource2["Screenshare"] = "screenshare";
    TrackSource2["ScreenshareAudio"] = "screenshareaudio";
    TrackSource2["Other"] = "other";
    return TrackSource2;
  })(TrackSource || {});

  // src/track/Track.ts
  var SOURCES = new Set(Object.values(TrackSource));
  function toTrackSource(source) {
    return typeof source === "string" && SOURCES.has(source) ? source : "other" /* Other */;
  }
  __name(toTrackSource, "toTrackSource");
  var _Track = class _Track extends TypedEventEmitter {
    /** @internal */
    constructor(params, track) {
      super();
      /** Every HTMLMediaElement this track is attached to. */
      this.attachedElements = [];
      this.tid = params.tid;
      this.kind = params.kind;
      this.name = params.name;
      this.muted = params.muted;
      this.source = params.source;
      this.width = params.width;
      this.height = params.height;
      this.metadata = params.metadata;
      this.track = track;
    }
    /** True if the track is muted. */
    isMuted() {
      return this.muted;
    }
    /** The source of this track. */
    getSource() {
      return this.source;
    }
    /** What kind of track this is. */
    getKind() {
      return this.kind;
    }
    /** True if the Track has a MediaStreamTrack. */
    hasMedia() {
      return !!this.track;
    }
    attach(element) {
      let el = element;
      if (!el) {
        el = document.createElement(this.kind === 2 /* Video */ ? "video" : "audio");
        el.autoplay = true;
        el.setAttribute("playsinline", "");
      }
      if (!this.attachedElements.includes(el)) this.attachedElements.push(el);
      if (this.track) this.putMedia(el, this.track);
      return el;
    }
    detach(element) {
      const elements = element ? [element] : this.attachedElements;
      for (const el of elements) this.detachFromElement(el);
      this.attachedElements = element ? this.attachedElements.filter((e) => e !== element) : [];
      return elements;
    }
    /**
     * Swaps the media (or removes it with `undefined`), keeping every attached element in step.
     *
     * @internal
     */
    setMedia(track) {
      const previous = this.track;
      if (previous === track) return;
      this.track = track;
      for (const el of this.attachedElements) {
        if (track) this.putMedia(el, track, previous);
        else if (previous) this.removeMedia(el, previous);
      }
    }
    /** Puts `track` on the element's stream in place of tracks of the same kind. */
    putMedia(el, track, previous) {
      const current = el.srcObject instanceof MediaStream ? el.srcObject.getTracks() : [];
      if (current.includes(track)) return;
      const kept = current.filter((t) => t.kind !== track.kind && t !== previous);
      el.srcObject = new MediaStream([...kept, track]);
    }
    removeMedia(el, track) {
      if (!(el.srcObject instanceof MediaStream)) return;
      const current = el.srcObject.getTracks();
      if (!current.includes(track)) return;
      const kept = current.filter((t) => t !== track);
      el.srcObject = kept.length ? new MediaStream(kept) : null;
    }
    detachFromElement(el) {
      if (this.track) this.removeMedia(el, this.track);
    }
  };
  __name(_Track, "Track");
  var Track = _Track;

  // src/track/events.ts
  var TrackEvent = /* @__PURE__ */ ((TrackEvent2) => {
    TrackEvent2["Muted"] = "Muted";
    TrackEvent2["Unmuted"] = "Unmuted";
    return TrackEvent2;
  })(TrackEvent || {});

  // src/track/LocalTrack.ts
  var _LocalTrack = class _LocalTrack extends Track {
    /** @internal */
    constructor(params, track, deviceId) {
      super(params, track);
      /** @internal */
      this.isPublished = false;
      this.deviceId = deviceId;
    }
    /** Stops sending media (the track sends silence or black) and tells the others it is muted. */
    mute() {
      if (this.muted) return;
      this.muted = true;
      this.track.enabled = false;
      this.emit("Muted" /* Muted */);
      this.muteObserver?.(this, true);
    }
    /** Sends media again and tells the others. */
    unMute() {
      if (!this.muted) return;
      this.muted = false;
      this.track.enabled = true;
      this.emit("Unmuted" /* Unmuted */);
      this.muteObserver?.(this, false);
    }
    /** Stop capturing media from the track. */
    stop() {
      this.track.stop();
    }
  };
  __name(_LocalTrack, "LocalTrack");
  var LocalTrack = _LocalTrack;

  // src/participant/LocalParticipant.ts
  var log = new Logger("LocalParticipant");
  var MAX_CUSTOM_EVENT_BYTES = 4096;
  var MAX_DISPLAY_NAME_CHARS = 64;
  function isDisplayNameValid(name) {
    return typeof name === "string" && [...name].length <= MAX_DISPLAY_NAME_CHARS;
  }
  __name(isDisplayNameValid, "isDisplayNameValid");
  function senderCustomEvent(wire) {
    return {
      payload: wire.payload,
      sequenceNumber: wire.sequence_num,
      scope: wire.scope,
      id: wire.id,
      connection_id: wire.connection_id,
      sequence_num: wire.sequence_num
    };
  }
  __name(senderCustomEvent, "senderCustomEvent");
  var utf8Length = /* @__PURE__ */ __name((s) => new TextEncoder().encode(s).length, "utf8Length");
  var _LocalParticipant = class _LocalParticipant extends TypedEventEmitter {
    /** @internal */
    constructor(backend, connectionId, role, id, displayName) {
      super();
      /** Published audio tracks, by tid. */
      this.audioTracks = /* @__PURE__ */ new Map();
      /** Published video tracks, by tid. */
      this.videoTracks = /* @__PURE__ */ new Map();
      /** Custom-event token bucket: tokens left and when it was last refilled. */
      this.eventTokens = -1;
      this.eventRefilledAt = 0;
      this.nextDisplayNameAt = 0;
      this.backend = backend;
      this.connectionId = connectionId;
      this.role = role;
      this.id = id || connectionId;
      this.displayName = displayName;
    }
    /**
     * Publishes a string (up to 4 KiB of UTF-8) to everyone in the space. Resolves once the
     * server has ordered it; emits [[SpaceEvent.ParticipantCustomEventPublished]] and
     * [[ParticipantEvent.CustomEventPublished]] for this participant then.
     */
    async publishCustomEvent(payload) {
      if (this.role !== 1 /* Publisher */) {
        throw new PublishCustomEventError("Only participants with the publisher role can publish custom events");
      }
      if (typeof payload !== "string") throw new PublishCustomEventError("Cannot publish a payload which is not a string");
      if (utf8Length(payload) > MAX_CUSTOM_EVENT_BYTES) {
        throw new PublishCustomEventError("String payload cannot be over 4 kilobytes in size");
      }
      const perSecond = this.backend.limits().custom_events_per_second;
      if (!this.takeEventToken(perSecond)) {
        throw new PublishCustomEventError(`Cannot publish more than ${perSecond} custom events per second`);
      }
      const id = this.backend.uuid();
      const wire = await this.backend.request({ custom_event: { id, payload, scope: 1 }, request_id: id });
      const event = senderCustomEvent(wire);
      this.emit("CustomEventPublished" /* CustomEventPublished */, event);
      this.backend.customEventPublished(event);
      return event;
    }
    /**
     * Sets the display name (up to 64 characters; at most once per
     * `seconds_per_set_display_name`). Emits [[SpaceEvent.ParticipantDisplayNameChanged]] and
     * [[ParticipantEvent.DisplayNameChanged]] once the server accepted it.
     */
    async setDisplayName(displayName) {
      if (!isDisplayNameValid(displayName)) throw new SetDisplayNameError(`May not set invalid display name: ${displayName}`);
      const seconds = this.backend.limits().seconds_per_set_display_name;
      if (Date.now() < this.nextDisplayNameAt) throw new SetDisplayNameError(`May only set display name every ${seconds} seconds`);
      this.nextDisplayNameAt = Date.now() + seconds * 1e3;
      let reply;
      try {
        reply = await this.backend.request({ set_display_name: displayName, request_id: this.backend.uuid() });
      } catch (error) {
        this.nextDisplayNameAt = 0;
        throw error;
      }
      this.displayName = typeof reply.display_name === "string" ? reply.display_name : displayName;
      this.emit("DisplayNameChanged" /* DisplayNameChanged */);
      this.backend.displayNameChanged();
      return this;
    }
    /**
     * Publishes tracks to the space. [[SpaceEvent.ParticipantTrackPublished]] fires for each at
     * once; the media follows as soon as the server has answered. Screen-share tracks are
     * unpublished by themselves when the browser's capture ends.
     */
    async publishTracks(tracks) {
      if (this.role === 2 /* Subscriber */) throw new PublishTrackError("Cannot publish tracks as a subscriber only participant");
      if (!Array.isArray(tracks) || tracks.length === 0) throw new PublishTrackError("No valid tracks found to publish");
      if (tracks.some((t) => !(t instanceof LocalTrack) || !t.track)) throw new PublishTrackError("Only LocalTracks with media can be published");
      if (tracks.some((t) => t.isPublished || this.hasLocalTrack(t))) throw new PublishTrackError("Cannot publish an already published LocalTrack");
      if (new Set(tracks.map((t) => t.tid)).size !== tracks.length) throw new PublishTrackError("Cannot publish the same LocalTrack twice");
      if (!this.backend.connected()) throw new PublishTrackError("Not connected to the space");
      const over = this.sourceOverLimit(tracks);
      if (over) throw new PublishTrackError(`Cannot publish more than ${this.backend.limits().default_track_limit} ${over} tracks`);
      for (const track of tracks) {
        this.addLocalTrack(track);
        if (track.source === "screenshare" /* Screenshare */ || track.source === "screenshareaudio" /* ScreenshareAudio */) {
          track.track.addEventListener("ended", () => {
            if (this.hasLocalTrack(track)) this.unpublishTracks([track]);
          });
        }
      }
      this.backend.publish(tracks);
      return tracks;
    }
    /**
     * Replaces the media of published tracks, matched by source (a new camera for the camera, a
     * new microphone for the microphone...), without renegotiating: the others keep the same
     * tid. A source that is not published is skipped.
     *
     * @returns all LocalTracks that were updated
     */
    updateTracks(tracks) {
      if (this.role === 2 /* Subscriber */) throw new UpdateTrackError("Updating tracks not allowed for subscriber only participants");
      const updated = [];
      for (const track of tracks) {
        const old = this.getTracks().find((t) => t.source === track.source && t !== track);
        if (!old) {
          log.warn(`no published ${track.source} track to update`);
          continue;
        }
        const elements = old.attachedElements;
        old.detach();
        old.muteObserver = void 0;
        old.removeAllListeners();
        old.stop();
        old.isPublished = false;
        this.mapFor(old).delete(old.tid);
        track.tid = old.tid;
        track.muted = old.muted;
        track.track.enabled = !old.muted;
        track.name = old.name;
        track.metadata = old.metadata;
        this.backend.replace(track);
        this.emit("TrackUnpublished" /* TrackUnpublished */, old);
        this.backend.trackUnpublished(old);
        this.addLocalTrack(track);
        for (const el of elements) track.attach(el);
        updated.push(track);
      }
      return updated;
    }
    /** Unpublishes every track; `stop` (default true) also stops their capture. */
    unpublishAllTracks(options = { stop: true }) {
      if (this.role === 2 /* Subscriber */) throw new UnpublishTrackError("Unpublishing not allowed for subscriber only participants");
      this.unpublishTracks(this.getTracks(), options);
    }
    /** Unpublishes tracks; `stop` (default true) also stops their capture. */
    unpublishTracks(tracks, options = { stop: true }) {
      if (this.role === 2 /* Subscriber */) throw new UnpublishTrackError("Unpublishing not allowed for subscriber only participants");
      if (!tracks) return;
      const removed = [];
      for (const track of tracks) {
        const own = this.hasLocalTrack(track);
        if (!own) {
          log.warn("tried unpublishing a track that isn't published");
          continue;
        }
        this.mapFor(own).delete(own.tid);
        own.muteObserver = void 0;
        own.isPublished = false;
        if (options?.stop !== false) {
          own.detach();
          own.stop();
        }
        removed.push(own);
        this.emit("TrackUnpublished" /* TrackUnpublished */, own);
        this.backend.trackUnpublished(own);
      }
      if (removed.length) this.backend.unpublish(removed);
    }
    /** The published video tracks. */
    getVideoTracks() {
      return [...this.videoTracks.values()];
    }
    /** The published audio tracks. */
    getAudioTracks() {
      return [...this.audioTracks.values()];
    }
    /** The published tracks (audio, then video). */
    getTracks() {
      return [...this.getAudioTracks(), ...this.getVideoTracks()];
    }
    hasLocalTrack(track) {
      return this.getTracks().find((t) => t === track || t.tid === track.tid);
    }
    mapFor(track) {
      return track.kind === 1 ? this.audioTracks : this.videoTracks;
    }
    addLocalTrack(track) {
      this.mapFor(track).set(track.tid, track);
      track.isPublished = true;
      track.muteObserver = (t, muted) => {
        this.backend.mute(t, muted);
        this.emit(muted ? "TrackMuted" /* TrackMuted */ : "TrackUnmuted" /* TrackUnmuted */, t);
      };
      this.emit("TrackPublished" /* TrackPublished */, track);
      this.backend.trackPublished(track);
    }
    /** The first source that would exceed `default_track_limit` with `tracks` added. */
    sourceOverLimit(tracks) {
      const limit = this.backend.limits().default_track_limit;
      const counts = /* @__PURE__ */ new Map();
      for (const t of [...this.getTracks(), ...tracks]) {
        const n = (counts.get(t.source) ?? 0) + 1;
        counts.set(t.source, n);
        if (n > limit) return t.source;
      }
      return void 0;
    }
    /** Token bucket: `perSecond` events per second, bursts of up to `perSecond`. */
    takeEventToken(perSecond) {
      const now = Date.now();
      if (this.eventTokens < 0) {
        this.eventTokens = perSecond;
        this.eventRefilledAt = now;
      }
      this.eventTokens = Math.min(perSecond, this.eventTokens + (now - this.eventRefilledAt) / 1e3 * perSecond);
      this.eventRefilledAt = now;
      if (this.eventTokens < 1) return false;
      this.eventTokens -= 1;
      return true;
    }
  };
  __name(_LocalParticipant, "LocalParticipant");
  var LocalParticipant = _LocalParticipant;

  // src/space/options.ts
  var SubscriptionMode = /* @__PURE__ */ ((SubscriptionMode2) => {
    SubscriptionMode2["Automatic"] = "AUTOMATIC";
    SubscriptionMode2["Manual"] = "MANUAL";
    return SubscriptionMode2;
  })(SubscriptionMode || {});

  // src/participant/RemoteParticipant.ts
  var MANUAL_ONLY = "Manual subscriptions are not supported while automatic subscriptions are enabled. See SpaceOptions for more details.";
  var _RemoteParticipant = class _RemoteParticipant extends TypedEventEmitter {
    /** @internal */
    constructor(backend, connectionId, role, id, status, displayName) {
      super();
      /** All audio tracks of this participant, by tid. */
      this.audioTracks = /* @__PURE__ */ new Map();
      /** All video tracks of this participant, by tid. */
      this.videoTracks = /* @__PURE__ */ new Map();
      /**
       * Whether media of this participant is wanted (manual mode) or received (automatic mode).
       *
       * @deprecated use {@link isSubscribed}
       */
      this.subscribed = false;
      this.backend = backend;
      this.connectionId = connectionId;
      this.id = id || connectionId;
      this.role = role === 2 /* Subscriber */ ? 2 /* Subscriber */ : 1 /* Publisher */;
      this.status = status === 2 /* Disconnected */ || status === 3 /* Reconnected */ ? status : 1 /* Connected */;
      this.displayName = displayName || "";
    }
    /** All video tracks of this participant. */
    getVideoTracks() {
      return [...this.videoTracks.values()];
    }
    /** All audio tracks of this participant. */
    getAudioTracks() {
      return [...this.audioTracks.values()];
    }
    /** All (audio, then video) tracks of this participant. */
    getTracks() {
      return [...this.getAudioTracks(), ...this.getVideoTracks()];
    }
    /** `true` if the RemoteParticipant is subscribed. */
    isSubscribed() {
      return this.subscribed;
    }
    /**
     * Subscribes to this participant's media ([[SubscriptionMode.Manual]] only). Resolves once
     * media of every current track arrived (one [[SpaceEvent.ParticipantTrackSubscribed]] each);
     * tracks it publishes later are subscribed too, until [[unsubscribe]].
     */
    async subscribe() {
      if (this.backend.mode() !== "MANUAL" /* Manual */) throw new SubscriptionError(MANUAL_ONLY);
      this.subscribed = true;
      await this.backend.subscribe(this);
    }
    /**
     * Unsubscribes from this participant's media ([[SubscriptionMode.Manual]] only). Resolves once
     * every track is unsubscribed (one [[SpaceEvent.ParticipantTrackUnsubscribed]] each).
     */
    async unsubscribe() {
      if (this.backend.mode() !== "MANUAL" /* Manual */) throw new SubscriptionError(MANUAL_ONLY);
      this.subscribed = false;
      await this.backend.unsubscribe(this);
    }
  };
  __name(_RemoteParticipant, "RemoteParticipant");
  var RemoteParticipant = _RemoteParticipant;

  // src/track/RemoteTrack.ts
  var _RemoteTrack = class _RemoteTrack extends Track {
    constructor() {
      super(...arguments);
      /**
       * Whether TrackSubscribed was emitted for the current media.
       *
       * @internal
       */
      this.announced = false;
    }
  };
  __name(_RemoteTrack, "RemoteTrack");
  var RemoteTrack = _RemoteTrack;

  // src/version.ts
  var version = "0.1.0";

  // src/space/enums.ts
  var AcrScore = /* @__PURE__ */ ((AcrScore2) => {
    AcrScore2[AcrScore2["Bad"] = 1] = "Bad";
    AcrScore2[AcrScore2["Poor"] = 2] = "Poor";
    AcrScore2[AcrScore2["Fair"] = 3] = "Fair";
    AcrScore2[AcrScore2["Good"] = 4] = "Good";
    AcrScore2[AcrScore2["Excellent"] = 5] = "Excellent";
    return AcrScore2;
  })(AcrScore || {});

  // src/space/events.ts
  var SpaceEvent = /* @__PURE__ */ ((SpaceEvent2) => {
    SpaceEvent2["LocalParticipantReconnected"] = "LocalParticipantReconnected";
    SpaceEvent2["LocalParticipantReconnecting"] = "LocalParticipantReconnecting";
    SpaceEvent2["LocalParticipantReconnectFailed"] = "LocalParticipantReconnectFailed";
    SpaceEvent2["ParticipantJoined"] = "ParticipantJoined";
    SpaceEvent2["ParticipantLeft"] = "ParticipantLeft";
    SpaceEvent2["ParticipantTrackPublished"] = "ParticipantTrackPublished";
    SpaceEvent2["ParticipantTrackUnpublished"] = "ParticipantTrackUnpublished";
    SpaceEvent2["ParticipantTrackSubscribed"] = "ParticipantTrackSubscribed";
    SpaceEvent2["ParticipantTrackUnsubscribed"] = "ParticipantTrackUnsubscribed";
    SpaceEvent2["ParticipantTrackMuted"] = "ParticipantTrackMuted";
    SpaceEvent2["ParticipantTrackUnmuted"] = "ParticipantTrackUnmuted";
    SpaceEvent2["ActiveSpeakersChanged"] = "ActiveSpeakersChanged";
    SpaceEvent2["BroadcastStateChanged"] = "BroadcastStateChanged";
    SpaceEvent2["ParticipantCustomEventPublished"] = "ParticipantCustomEventPublished";
    SpaceEvent2["ParticipantDisplayNameChanged"] = "ParticipantDisplayNameChanged";
    return SpaceEvent2;
  })(SpaceEvent || {});

  // src/signaling/protocol.ts
  var isObject = /* @__PURE__ */ __name((v) => typeof v === "object" && v !== null && !Array.isArray(v), "isObject");
  var isString = /* @__PURE__ */ __name((v) => typeof v === "string", "isString");
  var isTrack = /* @__PURE__ */ __name((v) => isObject(v) && isString(v.tid) && typeof v.type === "number", "isTrack");
  var isTrackRef = /* @__PURE__ */ __name((v) => isObject(v) && isString(v.connection_id) && isObject(v.track) && isString(v.track.tid), "isTrackRef");
  var isParticipant = /* @__PURE__ */ __name((v) => isObject(v) && isString(v.connection_id) && Array.isArray(v.tracks) && v.tracks.every(isTrack), "isParticipant");
  var isSfuOffer = /* @__PURE__ */ __name((v) => isObject(v) && isString(v.sfu_id) && isString(v.sdp), "isSfuOffer");
  var isReply = /* @__PURE__ */ __name((v) => isObject(v) && Array.isArray(v.successes) && Array.isArray(v.failures), "isReply");
  var KEYS = [
    "joined",
    "participant_connected",
    "participant_disconnected",
    "add_track",
    "remove_track",
    "sub_offer",
    "candidate",
    "answer",
    "track_muted",
    "track_unmuted",
    "pending_track_ack",
    "active_speakers",
    "custom_event",
    "participant_update",
    "broadcast_state_update",
    "subscribe_tracks",
    "unsubscribe_tracks",
    "error"
  ];
  function validJoined(v) {
    return isObject(v) && isString(v.connection_id) && Array.isArray(v.participants) && v.participants.every(isParticipant) && (v.sub_sfus === void 0 || Array.isArray(v.sub_sfus) && v.sub_sfus.every(isSfuOffer));
  }
  __name(validJoined, "validJoined");
  function normalizeJoined(v) {
    const limits = isObject(v.limits) ? v.limits : {};
    return {
      session_id: isString(v.session_id) ? v.session_id : "",
      connection_id: v.connection_id,
      participant_id: isString(v.participant_id) ? v.participant_id : "",
      display_name: isString(v.display_name) ? v.display_name : "",
      broadcasting: v.broadcasting === true,
      participants: v.participants,
      sub_sfus: v.sub_sfus ?? [],
      simulcast: isObject(v.simulcast) ? v.simulcast : {},
      ice_servers: Array.isArray(v.ice_servers) ? v.ice_servers.filter((s) => isObject(s) && s.urls !== void 0) : [],
      limits: {
        custom_events_per_second: positive(limits.custom_events_per_second, 1),
        default_track_limit: positive(limits.default_track_limit, 2),
        seconds_per_set_display_name: positive(limits.seconds_per_set_display_name, 10)
      }
    };
  }
  __name(normalizeJoined, "normalizeJoined");
  var positive = /* @__PURE__ */ __name((v, fallback) => typeof v === "number" && v > 0 ? v : fallback, "positive");
  function parseServerMessage(text) {
    let raw;
    try {
      raw = JSON.parse(text);
    } catch {
      return { ignored: "not JSON" };
    }
    if (!isObject(raw)) return { ignored: "not an object" };
    const key = KEYS.find((k) => k in raw && raw[k] !== void 0 && raw[k] !== null);
    if (!key) return { ignored: "unknown message" };
    const value = raw[key];
    const requestId = isString(raw.request_id) && raw.request_id ? raw.request_id : void 0;
    const bad = { ignored: `malformed ${key}` };
    switch (key) {
      case "joined":
        return validJoined(value) ? { message: { type: key, value: normalizeJoined(value) } } : bad;
      case "participant_connected":
        return isParticipant(value) ? { message: { type: key, value } } : bad;
      case "participant_disconnected":
        return isObject(value) && isString(value.connection_id) ? { message: { type: key, value: { connection_id: value.connection_id } } } : bad;
      case "add_track":
        return isObject(value) && isString(value.connection_id) && isTrack(value.track) ? { message: { type: key, value: { connection_id: value.connection_id, track: value.track } } } : bad;
      case "remove_track":
      case "track_muted":
      case "track_unmuted":
        return isTrackRef(value) ? { message: { type: key, value } } : bad;
      case "sub_offer":
        return isSfuOffer(value) ? { message: { type: key, value } } : bad;
      case "answer":
        return isString(value) && value ? { message: { type: key, value } } : bad;
      case "candidate":
        return isObject(value) && isObject(value.candidate) && isString(value.candidate.candidate) && typeof value.type === "number" ? { message: { type: key, value } } : bad;
      case "pending_track_ack":
        return { message: { type: key, value } };
      case "active_speakers":
        return isObject(value) && Array.isArray(value.tracks) ? {
          message: {
            type: key,
            value: {
              tracks: value.tracks.filter(
                (t) => isObject(t) && isString(t.connection_id) && isString(t.track_id)
              )
            }
          }
        } : bad;
      case "custom_event":
        return isObject(value) && isString(value.payload) && isString(value.connection_id) ? { message: { type: key, value, requestId } } : bad;
      case "participant_update":
        return isObject(value) && isString(value.connection_id) ? { message: { type: key, value, requestId } } : bad;
      case "broadcast_state_update":
        return typeof value === "number" ? { message: { type: key, value } } : bad;
      case "subscribe_tracks":
      case "unsubscribe_tracks":
        return isReply(value) ? { message: { type: key, value } } : bad;
      case "error":
        return isObject(value) && typeof value.type === "number" ? {
          message: {
            type: key,
            value: { ...value, message: isString(value.message) ? value.message : "" }
          }
        } : bad;
    }
  }
  __name(parseServerMessage, "parseServerMessage");
  function candidateToWire(c) {
    return {
      candidate: c.candidate ?? "",
      sdp_mline_index: c.sdpMLineIndex ?? null,
      sdp_mid: c.sdpMid ?? null,
      username_fragment: c.usernameFragment ?? null
    };
  }
  __name(candidateToWire, "candidateToWire");
  function candidateFromWire(c) {
    const init = { candidate: c.candidate };
    if (typeof c.sdp_mline_index === "number") init.sdpMLineIndex = c.sdp_mline_index;
    if (typeof c.sdp_mid === "string") init.sdpMid = c.sdp_mid;
    if (typeof c.username_fragment === "string") init.usernameFragment = c.username_fragment;
    return init;
  }
  __name(candidateFromWire, "candidateFromWire");

  // src/rtc/candidates.ts
  var log2 = new Logger("ice");
  var _RemoteCandidates = class _RemoteCandidates {
    constructor(pc) {
      this.pc = pc;
      this.queue = [];
      this.ready = false;
    }
    /** Adds now, or once {@link flush} is called. */
    add(candidate) {
      if (!this.ready) {
        this.queue.push(candidate);
        return;
      }
      this.pc.addIceCandidate(candidate).catch((e) => log2.debug("could not add a remote candidate", candidate, e));
    }
    /** The remote description is set: adds what waited. */
    flush() {
      this.ready = true;
      const queue = this.queue;
      this.queue = [];
      for (const c of queue) this.add(c);
    }
  };
  __name(_RemoteCandidates, "RemoteCandidates");
  var RemoteCandidates = _RemoteCandidates;

  // src/rtc/Publisher.ts
  var log3 = new Logger("publisher");
  var ANSWER_TIMEOUT_MS = 15e3;
  var DISCONNECTED_GRACE_MS = 2e3;
  function encodingSettings(simulcast, { disableABR, goodVideo }) {
    const map = /* @__PURE__ */ __name((e) => {
      const out = { rid: e.rid };
      if ((e.max_bitrate ?? 0) > 0) out.maxBitrate = e.max_bitrate;
      if ((e.scale_resolution_down_by ?? 0) > 0) out.scaleResolutionDownBy = e.scale_resolution_down_by;
      if ((e.max_framerate ?? 0) > 0) out.maxFramerate = e.max_framerate;
      return out;
    }, "map");
    const layers = /* @__PURE__ */ __name((list, fallback) => !disableABR && list && list.length > 0 ? list.map(map) : [{ maxBitrate: fallback }], "layers");
    return {
      audio: [{ maxBitrate: 64e3 }],
      camera: layers(simulcast.camera_encodings, 7e5),
      screenshare: goodVideo ? [{ maxBitrate: 5e6 }] : layers(simulcast.screenshare_encodings, 2e6)
    };
  }
  __name(encodingSettings, "encodingSettings");
  var _Publisher = class _Publisher {
    constructor(runtime, sfuId, iceServers, encodings, out) {
      this.runtime = runtime;
      this.sfuId = sfuId;
      this.encodings = encodings;
      this.out = out;
      /** The transceiver of each published tid. */
      this.transceivers = /* @__PURE__ */ new Map();
      this.changes = [];
      this.restartWanted = false;
      this.running = false;
      this.closed = false;
      this.pc = runtime.createPeerConnection({ iceServers });
      this.candidates = new RemoteCandidates(this.pc);
      this.pc.onicecandidate = (ev) => {
        if (!ev.candidate || this.closed) return;
        this.out.send({ candidate: { candidate: candidateToWire(ev.candidate.toJSON()), type: 2, sfu_id: this.sfuId } });
      };
      this.pc.oniceconnectionstatechange = () => this.iceStateChanged();
    }
    /** Queues new tracks (their tid must not be published yet). */
    add(tracks) {
      for (const track of tracks) this.changes.push({ kind: "add", track });
      void this.pump();
    }
    /** Queues the removal of published tracks. */
    remove(tids) {
      for (const tid of tids) this.changes.push({ kind: "remove", tid });
      void this.pump();
    }
    /** Sends the media of `track` in place of the published track with the same tid (no renegotiation). */
    replace(track) {
      const transceiver = this.transceivers.get(track.tid);
      if (transceiver) {
        transceiver.sender.replaceTrack(track.track).catch((e) => log3.error("replaceTrack failed", e));
        return;
      }
      for (const change of this.changes) if (change.kind === "add" && change.track.tid === track.tid) change.track = track;
    }
    /** Queues an offer with new ICE credentials. */
    restartIce() {
      this.restartWanted = true;
      void this.pump();
    }
    /** The server's answer to the offer in flight. */
    handleAnswer(sdp) {
      const waiting = this.answer;
      if (!waiting) {
        log3.warn("ignored an answer while no offer was in flight");
        return;
      }
      this.answer = void 0;
      this.runtime.clearTimeout(waiting.timer);
      waiting.resolve(sdp);
    }
    addRemoteCandidate(candidate) {
      this.candidates.add(candidate);
    }
    close() {
      if (this.closed) return;
      this.closed = true;
      this.runtime.clearTimeout(this.disconnectedTimer);
      if (this.answer) this.runtime.clearTimeout(this.answer.timer);
      this.answer = void 0;
      this.pc.onicecandidate = null;
      this.pc.oniceconnectionstatechange = null;
      this.pc.close();
    }
    iceStateChanged() {
      const state = this.pc.iceConnectionState;
      log3.debug(`ICE ${state}`);
      this.runtime.clearTimeout(this.disconnectedTimer);
      if (state === "failed") {
        this.restartIce();
      } else if (state === "disconnected") {
        this.disconnectedTimer = this.runtime.setTimeout(() => {
          if (!this.closed && this.pc.iceConnectionState === "disconnected") this.restartIce();
        }, DISCONNECTED_GRACE_MS);
      }
    }
    async pump() {
      if (this.running || this.closed) return;
      this.running = true;
      try {
        while (!this.closed && (this.changes.length > 0 || this.restartWanted)) {
          const changes = this.changes;
          this.changes = [];
          const restart = this.restartWanted;
          this.restartWanted = false;
          const added = this.apply(changes);
          if (added === null && !restart) continue;
          await this.negotiate(restart, added ?? []);
        }
      } catch (e) {
        if (!this.closed) {
          log3.error("publishing failed", e);
          this.out.failed(`publishing failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      } finally {
        this.running = false;
      }
    }
    /** Applies queued changes to the transceivers; null if nothing changed. */
    apply(changes) {
      let changed = false;
      const added = [];
      const removedLater = /* @__PURE__ */ new Set();
      const skip = /* @__PURE__ */ new Set();
      for (let i = changes.length - 1; i >= 0; i--) {
        const change = changes[i];
        if (change.kind === "remove") removedLater.add(change.tid);
        else if (removedLater.has(change.track.tid) && !this.transceivers.has(change.track.tid)) {
          skip.add(change);
          removedLater.delete(change.track.tid);
        }
      }
      for (const change of changes) {
        if (skip.has(change)) continue;
        if (change.kind === "add") {
          if (this.transceivers.has(change.track.tid)) continue;
          const transceiver = this.pc.addTransceiver(change.track.track, {
            direction: "sendonly",
            sendEncodings: this.encodingsFor(change.track)
          });
          this.transceivers.set(change.track.tid, transceiver);
          added.push({ track: change.track, transceiver });
          changed = true;
        } else {
          const transceiver = this.transceivers.get(change.tid);
          if (!transceiver) continue;
          this.transceivers.delete(change.tid);
          this.pc.removeTrack(transceiver.sender);
          changed = true;
        }
      }
      return changed ? added : null;
    }
    encodingsFor(track) {
      if (track.kind === 1 /* Audio */) return this.encodings.audio.map((e) => ({ ...e }));
      const list = track.source === "screenshare" /* Screenshare */ ? this.encodings.screenshare : this.encodings.camera;
      return list.map((e) => ({ ...e }));
    }
    async negotiate(iceRestart, added) {
      const offer = await this.pc.createOffer({ iceRestart });
      if (this.closed) return;
      await this.pc.setLocalDescription(offer);
      if (this.closed) return;
      for (const { track, transceiver } of added) {
        if (transceiver.mid === null) {
          log3.error(`no mid for the transceiver of ${track.tid}`);
          continue;
        }
        const settings = track.track.getSettings ? track.track.getSettings() : {};
        this.out.send({
          pending_track: {
            tid: track.tid,
            type: track.kind,
            name: track.name,
            muted: track.muted,
            source: track.source,
            height: settings.height || track.height || 0,
            width: settings.width || track.width || 0,
            mid: transceiver.mid
          }
        });
      }
      const answer = new Promise((resolve, reject) => {
        const timer = this.runtime.setTimeout(() => {
          if (this.answer?.timer !== timer) return;
          this.answer = void 0;
          reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1e3} s`));
        }, ANSWER_TIMEOUT_MS);
        this.answer = { resolve, timer };
      });
      const sdp = this.pc.localDescription?.sdp ?? offer.sdp ?? "";
      if (!this.out.send({ offer: sdp })) {
        if (this.answer) this.runtime.clearTimeout(this.answer.timer);
        this.answer = void 0;
        if (this.closed) return;
        throw new Error("the signaling connection is down");
      }
      const answerSdp = await answer;
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: "answer", sdp: answerSdp });
      this.candidates.flush();
    }
  };
  __name(_Publisher, "Publisher");
  var Publisher = _Publisher;

  // src/rtc/Subscriber.ts
  var log4 = new Logger("subscriber");
  var _Subscriber = class _Subscriber {
    constructor(runtime, sfuId, iceServers, out) {
      this.sfuId = sfuId;
      this.out = out;
      this.chain = Promise.resolve();
      /** What each m-section (by mid) currently carries. */
      this.byMid = /* @__PURE__ */ new Map();
      this.closed = false;
      this.pc = runtime.createPeerConnection({ iceServers });
      this.candidates = new RemoteCandidates(this.pc);
      this.pc.onicecandidate = (ev) => {
        if (!ev.candidate || this.closed) return;
        this.out.send({ candidate: { candidate: candidateToWire(ev.candidate.toJSON()), type: 1, sfu_id: this.sfuId } });
      };
      this.pc.ontrack = (ev) => this.onTrack(ev);
    }
    /** Queues a server offer; it is answered after the ones before it. */
    handleOffer(sdp) {
      this.chain = this.chain.then(() => this.applyOffer(sdp)).catch((e) => {
        if (this.closed) return;
        log4.error(`could not apply the offer of ${this.sfuId}`, e);
        this.out.failed(`subscriber offer failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
    addRemoteCandidate(candidate) {
      this.candidates.add(candidate);
    }
    close() {
      if (this.closed) return;
      this.closed = true;
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.close();
    }
    async applyOffer(sdp) {
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      if (this.closed) return;
      this.candidates.flush();
      const answer = await this.pc.createAnswer();
      if (this.closed) return;
      await this.pc.setLocalDescription(answer);
      if (this.closed) return;
      this.out.send({ sub_answer: { sfu_id: this.sfuId, sdp: this.pc.localDescription?.sdp ?? answer.sdp ?? "" } });
      this.sweep();
    }
    onTrack(ev) {
      if (this.closed) return;
      const stream = ev.streams[0];
      if (!stream) {
        log4.warn("ignored media without a stream id", ev.track.id);
        return;
      }
      const tid = stream.id;
      const mid = ev.transceiver?.mid ?? null;
      if (mid !== null) {
        const before = this.byMid.get(mid);
        if (before && (before.tid !== tid || before.track !== ev.track)) this.end(mid);
        this.byMid.set(mid, { tid, track: ev.track });
      }
      stream.addEventListener("removetrack", (e) => {
        if (this.closed || e.track !== ev.track) return;
        for (const [m, r] of this.byMid) if (r.tid === tid && r.track === e.track) this.end(m);
      });
      this.out.track(tid, ev.track);
    }
    /** Ends the media of every m-section the last negotiation made inactive. */
    sweep() {
      for (const transceiver of this.pc.getTransceivers()) {
        const mid = transceiver.mid;
        if (mid === null || !this.byMid.has(mid)) continue;
        const direction = transceiver.currentDirection;
        if (direction === "inactive" || direction === "sendonly" || direction === "stopped" || direction === null) this.end(mid);
      }
    }
    end(mid) {
      const receiving = this.byMid.get(mid);
      if (!receiving) return;
      this.byMid.delete(mid);
      this.out.trackEnded(receiving.tid, receiving.track);
    }
  };
  __name(_Subscriber, "Subscriber");
  var Subscriber = _Subscriber;

  // src/signaling/SignalClient.ts
  var REQUEST_TIMEOUT_MS = 3e4;
  var log5 = new Logger("signaling");
  var OPEN = 1;
  var _SignalClient = class _SignalClient {
    constructor(runtime, handler) {
      this.runtime = runtime;
      this.handler = handler;
      this.phase = "new";
      /** Messages that arrived after `joined` but before the space was ready for them. */
      this.buffered = [];
      /** Requests with a `request_id`, by id. */
      this.requests = /* @__PURE__ */ new Map();
      /** Subscription requests waiting for their reply, FIFO per connection id. */
      this.waiters = {
        subscribe_tracks: /* @__PURE__ */ new Map(),
        unsubscribe_tracks: /* @__PURE__ */ new Map()
      };
    }
    /**
     * Dials `url` and resolves with `joined`. Rejects with the public error for an `error` frame
     * (JWTError, ConnectionError, InternalError; `code` = the server's error type), or with
     * ConnectionError when the socket cannot open, closes first, or nothing comes in `timeoutMs`.
     */
    connect(url, timeoutMs) {
      if (this.phase !== "new") return Promise.reject(new ConnectionError("this signaling client was already used"));
      this.phase = "connecting";
      return new Promise((resolve, reject) => {
        let timer;
        const fail = /* @__PURE__ */ __name((error) => {
          if (this.phase !== "connecting") return;
          this.runtime.clearTimeout(timer);
          this.abortConnect = void 0;
          this.close(1e3, "join failed");
          reject(error);
        }, "fail");
        this.abortConnect = fail;
        let ws;
        try {
          ws = this.runtime.createWebSocket(url);
        } catch (e) {
          fail(new ConnectionError(`cannot open the signaling connection: ${e instanceof Error ? e.message : String(e)}`));
          return;
        }
        this.ws = ws;
        timer = this.runtime.setTimeout(() => fail(new ConnectionError(`no answer from the server within ${timeoutMs / 1e3} s`)), timeoutMs);
        ws.onerror = () => log5.debug("WebSocket error");
        ws.onclose = (ev) => {
          if (this.phase === "connecting") {
            fail(new ConnectionError(`the connection closed before joining (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`));
          } else if (this.phase !== "closed") {
            this.phase = "closed";
            this.detach();
            this.rejectPending(new WebsocketError("Request failed as connection to the server has disconnected"));
            this.handler.closed(ev.code, ev.reason);
          }
        };
        ws.onmessage = (ev) => {
          if (typeof ev.data !== "string") {
            log5.warn("ignored a binary frame");
            return;
          }
          const parsed = parseServerMessage(ev.data);
          if ("ignored" in parsed) {
            log5.warn(`ignored a server frame (${parsed.ignored})`, ev.data.slice(0, 200));
            return;
          }
          const message = parsed.message;
          if (this.phase === "connecting") {
            if (message.type === "joined") {
              this.runtime.clearTimeout(timer);
              this.abortConnect = void 0;
              this.phase = "joined";
              resolve(message.value);
            } else if (message.type === "error") {
              fail(joinError(message.value));
            } else {
              this.buffered.push(message);
            }
            return;
          }
          this.receive(message);
        };
      });
    }
    /** Starts delivering messages to the handler, those buffered since `joined` first. */
    start() {
      if (this.phase !== "joined") return;
      this.phase = "started";
      const buffered = this.buffered;
      this.buffered = [];
      for (const message of buffered) {
        if (this.phase !== "started") return;
        this.dispatch(message);
      }
    }
    /** Whether messages can be sent. */
    get isOpen() {
      return (this.phase === "joined" || this.phase === "started") && this.ws?.readyState === OPEN;
    }
    /** Sends a message; false (and nothing sent) when the socket is not open. */
    send(message) {
      if (!this.isOpen || !this.ws) return false;
      this.ws.send(JSON.stringify(message));
      return true;
    }
    /**
     * Sends a message with a top-level `request_id` and resolves with the value of the reply that
     * echoes it (`custom_event` / `participant_update`), or rejects with the public error of an
     * `error` frame naming it, WebsocketError if the connection ends, RequestTimeoutError after 30 s.
     */
    request(message) {
      const id = message.request_id;
      return new Promise((resolve, reject) => {
        if (!this.send(message)) {
          reject(new WebsocketError("Request failed as connection to the server has disconnected"));
          return;
        }
        const timer = this.runtime.setTimeout(() => {
          if (this.requests.delete(id)) reject(new RequestTimeoutError("Unable to complete the request"));
        }, REQUEST_TIMEOUT_MS);
        this.requests.set(id, { resolve, reject, timer });
      });
    }
    /** `subscribe_tracks` / `unsubscribe_tracks` for one participant; resolves on its success. */
    subscription(kind, connectionId, trackIds) {
      return new Promise((resolve, reject) => {
        const message = { [kind]: { connections: [{ connection_id: connectionId, track_ids: trackIds }] } };
        if (!this.send(message)) {
          reject(new WebsocketError("Request failed as connection to the server has disconnected"));
          return;
        }
        const queue = this.waiters[kind].get(connectionId) ?? [];
        const pending = {
          resolve: /* @__PURE__ */ __name(() => resolve(), "resolve"),
          reject,
          timer: this.runtime.setTimeout(() => {
            const i = queue.indexOf(pending);
            if (i >= 0) {
              queue.splice(i, 1);
              reject(new RequestTimeoutError("Unable to complete the request"));
            }
          }, REQUEST_TIMEOUT_MS)
        };
        queue.push(pending);
        this.waiters[kind].set(connectionId, queue);
      });
    }
    /** Closes the socket (if open) without telling the handler; pending requests fail. */
    close(code = 1e3, reason = "") {
      if (this.phase === "closed") return;
      if (this.phase === "connecting" && this.abortConnect) {
        this.abortConnect(new ConnectionError("The connection was closed before joining"));
        return;
      }
      this.phase = "closed";
      this.buffered = [];
      const ws = this.ws;
      this.detach();
      if (ws && (ws.readyState === 0 || ws.readyState === OPEN)) {
        try {
          ws.close(code, reason);
        } catch {
        }
      }
      this.rejectPending(new WebsocketError("Request failed as connection to the server has disconnected"));
    }
    detach() {
      if (!this.ws) return;
      this.ws.onopen = null;
      this.ws.onmessage = null;
      this.ws.onclose = null;
      this.ws.onerror = null;
    }
    receive(message) {
      if (this.phase === "joined") this.buffered.push(message);
      else if (this.phase === "started") this.dispatch(message);
    }
    dispatch(message) {
      switch (message.type) {
        case "joined":
          log5.warn("ignored a second joined message");
          return;
        case "error":
          this.handleError(message.value);
          return;
        case "custom_event":
        case "participant_update": {
          const pending = message.requestId ? this.requests.get(message.requestId) : void 0;
          if (pending && message.requestId) {
            this.requests.delete(message.requestId);
            this.runtime.clearTimeout(pending.timer);
            pending.resolve(message.value);
            return;
          }
          break;
        }
        case "subscribe_tracks":
        case "unsubscribe_tracks": {
          const waiters = this.waiters[message.type];
          const settle = /* @__PURE__ */ __name((connectionId, ok) => {
            const queue = waiters.get(connectionId);
            const pending = queue?.shift();
            if (!pending) return;
            if (queue && queue.length === 0) waiters.delete(connectionId);
            this.runtime.clearTimeout(pending.timer);
            if (ok) pending.resolve(void 0);
            else pending.reject(new SubscriptionError(message.type === "subscribe_tracks" ? "Subscribe failed" : "Unsubscribe failed"));
          }, "settle");
          for (const f of message.value.failures) if (f && typeof f.connection_id === "string") settle(f.connection_id, false);
          for (const s of message.value.successes) if (s && typeof s.connection_id === "string") settle(s.connection_id, true);
          return;
        }
      }
      this.handler.message(message);
    }
    handleError(frame) {
      const correlator = frame.request_error?.correlator;
      let matched = false;
      if (typeof correlator === "string") {
        for (const id of correlator.split(",")) {
          const pending = this.requests.get(id);
          if (!pending) continue;
          matched = true;
          this.requests.delete(id);
          this.runtime.clearTimeout(pending.timer);
          pending.reject(requestError(frame));
        }
      }
      if (frame.fatal) {
        log5.error(`the server reported a fatal error (type ${frame.type}): ${frame.message}`);
        this.handler.fatal(frame);
      } else if (!matched) {
        log5.warn(`the server reported an error (type ${frame.type}): ${frame.message}`);
      }
    }
    rejectPending(error) {
      for (const pending of this.requests.values()) {
        this.runtime.clearTimeout(pending.timer);
        pending.reject(error);
      }
      this.requests.clear();
      for (const waiters of Object.values(this.waiters)) {
        for (const queue of waiters.values()) {
          for (const pending of queue) {
            this.runtime.clearTimeout(pending.timer);
            pending.reject(error);
          }
        }
        waiters.clear();
      }
    }
  };
  __name(_SignalClient, "SignalClient");
  var SignalClient = _SignalClient;

  // src/space/Session.ts
  var log6 = new Logger("session");
  var CLOSE_AFTER_ERROR = 4e3;
  var MEDIA_FAILED_GRACE_MS = 8e3;
  function iceServersFrom(list) {
    const servers = [];
    for (const s of list) {
      const urls = (Array.isArray(s.urls) ? s.urls : [s.urls]).filter((u) => typeof u === "string" && u.length > 0);
      if (urls.length === 0) continue;
      const server = { urls };
      if (s.username) server.username = s.username;
      if (s.credential) server.credential = s.credential;
      servers.push(server);
    }
    return servers;
  }
  __name(iceServersFrom, "iceServersFrom");
  var _Session = class _Session {
    constructor(runtime, config, output) {
      this.runtime = runtime;
      this.config = config;
      this.output = output;
      this.subscribers = /* @__PURE__ */ new Map();
      /** Candidates for a subscriber PC that does not exist yet, by sfu_id. */
      this.earlyCandidates = /* @__PURE__ */ new Map();
      this.earlyPublisherCandidates = [];
      this.iceServers = [];
      this.failedTimers = /* @__PURE__ */ new Map();
      this.closed = false;
      this.signal = new SignalClient(runtime, {
        message: /* @__PURE__ */ __name((m) => this.onMessage(m), "message"),
        closed: /* @__PURE__ */ __name((code, reason) => this.onClosed(code, reason), "closed"),
        fatal: /* @__PURE__ */ __name((frame) => this.onFatal(frame), "fatal")
      });
    }
    /** Dials the space; resolves with `joined` (see {@link SignalClient.connect}). */
    open(url, timeoutMs) {
      return this.signal.connect(url, timeoutMs);
    }
    /** Creates the peer connections `joined` asks for. Call after the space applied `joined`. */
    setup(joined) {
      this.iceServers = iceServersFrom(joined.ice_servers);
      for (const offer of joined.sub_sfus) this.subscriber(offer.sfu_id).handleOffer(offer.sdp);
      if (this.config.role !== 2 /* Subscriber */) {
        const encodings = encodingSettings(joined.simulcast, {
          disableABR: this.config.disableABRPublishing,
          goodVideo: windowValue("MUX_SPACES_GOOD_VIDEO") === true
        });
        const publisher = new Publisher(this.runtime, joined.sub_sfus[0]?.sfu_id ?? "", this.iceServers, encodings, {
          send: /* @__PURE__ */ __name((m) => this.send(m), "send"),
          failed: /* @__PURE__ */ __name((reason) => this.lose(reason), "failed")
        });
        this.publisher = publisher;
        this.watch(publisher.pc);
        for (const c of this.earlyPublisherCandidates) publisher.addRemoteCandidate(c);
        this.earlyPublisherCandidates = [];
      }
    }
    /** Starts delivering server messages (those that came with or after `joined` first). */
    start() {
      this.signal.start();
    }
    send(message) {
      return !this.closed && this.signal.send(message);
    }
    /** Closes the socket and every peer connection. */
    close() {
      if (this.closed) return;
      this.closed = true;
      for (const timer of this.failedTimers.values()) this.runtime.clearTimeout(timer);
      this.failedTimers.clear();
      this.signal.close(1e3, "leaving");
      this.publisher?.close();
      for (const s of this.subscribers.values()) s.close();
      this.subscribers.clear();
    }
    subscriber(sfuId) {
      let sub = this.subscribers.get(sfuId);
      if (sub) return sub;
      sub = new Subscriber(this.runtime, sfuId, this.iceServers, {
        send: /* @__PURE__ */ __name((m) => this.send(m), "send"),
        track: /* @__PURE__ */ __name((tid, track) => !this.closed && this.output.remoteTrack(tid, track), "track"),
        trackEnded: /* @__PURE__ */ __name((tid, track) => !this.closed && this.output.remoteTrackEnded(tid, track), "trackEnded"),
        failed: /* @__PURE__ */ __name((reason) => this.lose(reason), "failed")
      });
      this.subscribers.set(sfuId, sub);
      this.watch(sub.pc);
      for (const c of this.earlyCandidates.get(sfuId) ?? []) sub.addRemoteCandidate(c);
      this.earlyCandidates.delete(sfuId);
      return sub;
    }
    onMessage(message) {
      if (this.closed) return;
      switch (message.type) {
        case "sub_offer":
          this.subscriber(message.value.sfu_id).handleOffer(message.value.sdp);
          return;
        case "answer":
          if (this.publisher) this.publisher.handleAnswer(message.value);
          else log6.warn("ignored an answer: no publisher connection");
          return;
        case "candidate": {
          const { candidate, type, sfu_id: sfuId } = message.value;
          const init = candidateFromWire(candidate);
          if (type === 1 /* Subscriber */) {
            const sub = this.subscribers.get(sfuId);
            if (sub) sub.addRemoteCandidate(init);
            else this.earlyCandidates.set(sfuId, [...this.earlyCandidates.get(sfuId) ?? [], init]);
          } else if (type === 2 /* Publisher */) {
            if (this.publisher) this.publisher.addRemoteCandidate(init);
            else this.earlyPublisherCandidates.push(init);
          } else {
            log6.warn(`ignored a candidate of unknown type ${type}`);
          }
          return;
        }
        default:
          this.output.message(message);
      }
    }
    onClosed(code, reason) {
      if (this.closed) return;
      if (code === CLOSE_AFTER_ERROR) {
        this.end(new DisconnectedError(`The server closed the connection${reason ? `: ${reason}` : ""}`, code));
      } else {
        this.lose(`the signaling connection closed (code ${code})`);
      }
    }
    onFatal(frame) {
      if (this.closed) return;
      if (frame.retry) this.lose(`the server asked to reconnect: ${frame.message}`);
      else this.end(new DisconnectedError(frame.message || "The server ended the connection", frame.type));
    }
    lose(reason) {
      if (this.closed) return;
      log6.warn(`connection lost: ${reason}`);
      this.output.lost(reason);
    }
    end(error) {
      if (this.closed) return;
      this.output.ended(error);
    }
    /** A peer connection `failed` for longer than the grace period loses the connection. */
    watch(pc) {
      pc.addEventListener?.("connectionstatechange", () => {
        if (this.closed) return;
        const existing = this.failedTimers.get(pc);
        if (pc.connectionState === "failed") {
          if (existing !== void 0) return;
          this.failedTimers.set(
            pc,
            this.runtime.setTimeout(() => {
              this.failedTimers.delete(pc);
              if (pc.connectionState === "failed") this.lose("a peer connection failed");
            }, MEDIA_FAILED_GRACE_MS)
          );
        } else if (existing !== void 0) {
          this.runtime.clearTimeout(existing);
          this.failedTimers.delete(pc);
        }
      });
    }
  };
  __name(_Session, "Session");
  var Session = _Session;

  // src/space/utils.ts
  function parseJwt(token) {
    if (typeof token !== "string") throw new JWTError("The join token must be a string");
    const parts = token.split(".");
    if (parts.length !== 3) throw new JWTError("The join token is not a JWT");
    try {
      const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      const padded = base64 + "=".repeat((4 - base64.length % 4) % 4);
      const binary = atob(padded);
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof claims !== "object" || claims === null) throw new Error("not an object");
      return claims;
    } catch {
      throw new JWTError("The join token payload cannot be read");
    }
  }
  __name(parseJwt, "parseJwt");
  function isAutomaticParticipantLimitValid(limit) {
    return Number.isInteger(limit) && limit >= 1 && limit <= 20;
  }
  __name(isAutomaticParticipantLimitValid, "isAutomaticParticipantLimitValid");
  var scriptBackend = (() => {
    try {
      const doc = globalThis.document;
      const src = doc?.currentScript?.src;
      if (typeof src !== "string" || !src) return void 0;
      const url = new URL(src);
      if (!/\/sdk\/spaces\.js$/.test(url.pathname)) return void 0;
      return `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}/pluto`;
    } catch {
      return void 0;
    }
  })();
  function resolveBackendUrl(option) {
    const candidates = [option, windowValue("MUX_SPACES_BACKEND_URL"), scriptBackend];
    const found = candidates.find((c) => typeof c === "string" && c.trim().length > 0);
    if (!found) {
      throw new ConnectionError("No Oriel server to connect to: pass the backendUrl option or set window.MUX_SPACES_BACKEND_URL");
    }
    let base = found.trim().replace(/\/+$/, "");
    base = base.replace(/^http(s?):\/\//i, "ws$1://");
    base = base.replace(/\/v1$/, "");
    if (!/^wss?:\/\//i.test(base)) throw new ConnectionError(`Not a WebSocket URL: ${found}`);
    return base;
  }
  __name(resolveBackendUrl, "resolveBackendUrl");

  // src/space/Space.ts
  var log7 = new Logger("Space");
  var JOIN_TIMEOUT_MS = 15e3;
  var RECONNECT_ATTEMPTS = 5;
  var RECONNECT_DELAY_MS = 5e3;
  var RECONNECT_ATTEMPT_TIMEOUT_MS = 1e4;
  var SUBSCRIBE_MEDIA_TIMEOUT_MS = 15e3;
  var UNSUBSCRIBE_MEDIA_TIMEOUT_MS = 5e3;
  var DEFAULT_LIMITS = { custom_events_per_second: 1, default_track_limit: 2, seconds_per_set_display_name: 10 };
  var _Space = class _Space extends TypedEventEmitter {
    /**
     * @param jwt - A join token signed with a signing key of the space's environment: `sub` the
     *   space id, `aud` "rt", optional `role` ("publisher" or "subscriber") and `participant_id`.
     * @param options - An optional set of Space options
     */
    constructor(jwt, options) {
      super();
      /** Whether the Space is currently being broadcast. */
      this.broadcasting = false;
      this.runtime = defaultRuntime;
      this.state = "new";
      this.limits = DEFAULT_LIMITS;
      this.participants = /* @__PURE__ */ new Map();
      /** Every remote track by tid. */
      this.tracks = /* @__PURE__ */ new Map();
      /** Media whose tid is not known yet (its `add_track` is still to come), by tid. */
      this.earlyMedia = /* @__PURE__ */ new Map();
      /** Connection ids of the participants currently speaking, and the last list emitted. */
      this.speaking = /* @__PURE__ */ new Set();
      this.speakersKey = "";
      /** Who waits for media of a tid to start (subscribe) or end (unsubscribe). */
      this.mediaWaiters = /* @__PURE__ */ new Map();
      // ---------------------------------------------------------------- backends for participants
      this.remoteBackend = {
        mode: /* @__PURE__ */ __name(() => this.options.subscriptionMode, "mode"),
        subscribe: /* @__PURE__ */ __name((p) => this.subscribe(p), "subscribe"),
        unsubscribe: /* @__PURE__ */ __name((p) => this.unsubscribe(p), "unsubscribe")
      };
      this.localBackend = {
        limits: /* @__PURE__ */ __name(() => this.limits, "limits"),
        connected: /* @__PURE__ */ __name(() => this.state === "joined" || this.state === "reconnecting", "connected"),
        uuid: /* @__PURE__ */ __name(() => this.runtime.uuid(), "uuid"),
        publish: /* @__PURE__ */ __name((tracks) => {
          if (this.state === "joined") this.session?.publisher?.add(tracks);
          else if (this.state !== "reconnecting") throw new PublishTrackError("Not connected to the space");
        }, "publish"),
        unpublish: /* @__PURE__ */ __name((tracks) => {
          if (this.state === "joined") this.session?.publisher?.remove(tracks.map((t) => t.tid));
        }, "unpublish"),
        replace: /* @__PURE__ */ __name((track) => {
          if (this.state === "joined") this.session?.publisher?.replace(track);
        }, "replace"),
        mute: /* @__PURE__ */ __name((track, muted) => {
          if (this.state !== "joined" || !this.session) return;
          const message = muted ? { mute_track: track.tid } : { unmute_track: track.tid };
          this.session.send(message);
        }, "mute"),
        request: /* @__PURE__ */ __name((message) => {
          if (this.state !== "joined" || !this.session) {
            return Promise.reject(new WebsocketError("Request failed as connection to the server has disconnected"));
          }
          return this.session.signal.request(message);
        }, "request"),
        trackPublished: /* @__PURE__ */ __name((track) => this.localParticipant && this.emit("ParticipantTrackPublished" /* ParticipantTrackPublished */, this.localParticipant, track), "trackPublished"),
        trackUnpublished: /* @__PURE__ */ __name((track) => this.localParticipant && this.emit("ParticipantTrackUnpublished" /* ParticipantTrackUnpublished */, this.localParticipant, track), "trackUnpublished"),
        customEventPublished: /* @__PURE__ */ __name((event) => this.localParticipant && this.emit("ParticipantCustomEventPublished" /* ParticipantCustomEventPublished */, this.localParticipant, event), "customEventPublished"),
        displayNameChanged: /* @__PURE__ */ __name(() => this.localParticipant && this.emit("ParticipantDisplayNameChanged" /* ParticipantDisplayNameChanged */, this.localParticipant), "displayNameChanged")
      };
      this.jwt = jwt;
      const claims = parseJwt(jwt);
      this.spaceId = typeof claims.sub === "string" ? claims.sub : "";
      this.localRole = claims.role === "subscriber" ? 2 /* Subscriber */ : 1 /* Publisher */;
      this.participantId = typeof claims.participant_id === "string" && claims.participant_id ? claims.participant_id : void 0;
      const o = options ?? {};
      if (o.automaticParticipantLimit !== void 0 && !isAutomaticParticipantLimitValid(o.automaticParticipantLimit)) {
        throw new SpaceOptionsError("The automaticParticipantLimit must be an integer between 1 and 20");
      }
      if (o.displayName !== void 0 && o.displayName !== "" && !isDisplayNameValid(o.displayName)) {
        throw new SpaceOptionsError(`May not join with invalid display name: ${o.displayName}`);
      }
      if (o.subscriptionMode !== void 0 && o.subscriptionMode !== "AUTOMATIC" /* Automatic */ && o.subscriptionMode !== "MANUAL" /* Manual */) {
        throw new SpaceOptionsError(`Unknown subscriptionMode: ${String(o.subscriptionMode)}`);
      }
      if (o.backendUrl !== void 0 && typeof o.backendUrl !== "string") throw new SpaceOptionsError("backendUrl must be a string");
      this.options = {
        disableABRPublishing: o.disableABRPublishing === true,
        subscriptionMode: o.subscriptionMode ?? "AUTOMATIC" /* Automatic */,
        automaticParticipantLimit: o.automaticParticipantLimit ?? 16,
        displayName: o.displayName ?? "",
        backendUrl: o.backendUrl
      };
    }
    /**
     * Join the Space. Participants already in arrive as [[SpaceEvent.ParticipantJoined]] before
     * this resolves. Rejects with JWTError (token refused), ConnectionError (server unreachable,
     * full, or no answer in 15 s) or InternalError. Calling it again while joining or joined
     * returns the same promise; after a failure it tries again.
     *
     * @returns A promise that resolves on a successful join.
     */
    join() {
      if (this.state === "left") return Promise.reject(new ConnectionError("This Space was left: make a new Space to join again"));
      if (!this.joining) {
        this.joining = this.firstJoin();
        this.joining.catch(() => {
          this.joining = void 0;
        });
      }
      return this.joining;
    }
    /**
     * Leave the Space: stops and unpublishes the local tracks, closes the connection, emits
     * [[SpaceEvent.ParticipantLeft]] for every remote participant, then removes all listeners.
     */
    leave() {
      if (this.state === "left") return;
      this.state = "left";
      this.runtime.clearTimeout(this.reconnectTimer);
      this.session?.close();
      this.session = void 0;
      const local = this.localParticipant;
      if (local && local.role !== 2 /* Subscriber */) local.unpublishAllTracks();
      local?.removeAllListeners();
      this.localParticipant = void 0;
      for (const p of [...this.participants.values()]) this.removeParticipant(p, { tracks: false });
      this.tracks.clear();
      this.earlyMedia.clear();
      for (const waiters of this.mediaWaiters.values()) for (const w of waiters) w();
      this.mediaWaiters.clear();
      this.removeAllListeners();
    }
    /**
     * Submit an Absolute Category Rating (https://en.wikipedia.org/wiki/Absolute_Category_Rating)
     * of this session. Sent only to the collector named by `window.MUX_SPACES_HELIOS_URL`;
     * without one it rejects with AcrError and sends nothing anywhere.
     */
    async submitAcrScore(score) {
      if (!Number.isInteger(score) || score < 1 /* Bad */ || score > 5 /* Excellent */) {
        throw new AcrError("Invalid acr score. Please choose one from 1-5");
      }
      const connectionId = this.localParticipant?.connectionId ?? this.ratedConnectionId;
      if (!connectionId || !this.sessionId) throw new AcrError("cannot submit acr score before joining a space");
      const base = windowValue("MUX_SPACES_HELIOS_URL");
      if (typeof base !== "string" || !base) {
        throw new AcrError("ACR scores are not collected: set window.MUX_SPACES_HELIOS_URL to a collector");
      }
      const body = {
        connection_id: connectionId,
        space_id: this.spaceId,
        session_id: this.sessionId,
        participant_id: this.participantId ?? this.localParticipant?.id ?? connectionId,
        acr_score: score
      };
      let status;
      try {
        const res = await fetch(`${base.replace(/\/+$/, "")}/helios/v1/submit_acr/${this.jwt}`, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },
          body: JSON.stringify(body)
        });
        status = res.status;
      } catch (e) {
        throw new AcrError(e instanceof Error ? e.message : "Unknown error submitting acr score");
      }
      if (status >= 300) throw new AcrError(`error submitting acr score got response code ${status}`);
    }
    // ---------------------------------------------------------------- connection state machine
    async firstJoin() {
      const url = this.url();
      this.state = "joining";
      const session = this.newSession();
      let joined;
      try {
        joined = await session.open(url, JOIN_TIMEOUT_MS);
      } catch (error) {
        session.close();
        if (this.session === session) this.session = void 0;
        if (this.state === "joining") this.state = "new";
        throw error;
      }
      if (this.state !== "joining" || this.session !== session) {
        session.close();
        throw new ConnectionError("The Space was left before the join completed");
      }
      this.limits = joined.limits;
      this.sessionId = joined.session_id;
      this.ratedConnectionId = joined.connection_id;
      if (joined.participant_id) this.participantId = joined.participant_id;
      const local = new LocalParticipant(
        this.localBackend,
        joined.connection_id,
        this.localRole,
        joined.participant_id || this.participantId || joined.connection_id,
        joined.display_name || this.options.displayName
      );
      this.localParticipant = local;
      this.state = "joined";
      for (const p of joined.participants) if (p.connection_id !== joined.connection_id) this.addParticipant(p);
      if (joined.broadcasting) this.setBroadcasting(true);
      session.setup(joined);
      session.start();
      return local;
    }
    newSession() {
      const session = new Session(
        this.runtime,
        { role: this.localRole, disableABRPublishing: this.options.disableABRPublishing },
        {
          message: /* @__PURE__ */ __name((m) => this.session === session && this.onMessage(m), "message"),
          remoteTrack: /* @__PURE__ */ __name((tid, track) => this.session === session && this.onRemoteMedia(tid, track), "remoteTrack"),
          remoteTrackEnded: /* @__PURE__ */ __name((tid, track) => this.session === session && this.onRemoteMediaEnded(tid, track), "remoteTrackEnded"),
          lost: /* @__PURE__ */ __name((reason) => this.session === session && this.connectionLost(reason), "lost"),
          ended: /* @__PURE__ */ __name((error) => this.session === session && this.disconnect(error), "ended")
        }
      );
      this.session = session;
      return session;
    }
    url(reconnectAttempt) {
      const base = resolveBackendUrl(this.options.backendUrl);
      const params = new URLSearchParams();
      params.set("token", this.jwt);
      params.set("sdk_version", `oriel-web-${version}`);
      const manual = this.options.subscriptionMode === "MANUAL" /* Manual */;
      params.set("managed_subscriptions", manual ? "0" : String(this.options.automaticParticipantLimit));
      if (reconnectAttempt !== void 0 && this.participantId) {
        params.set("reconnect_id", this.participantId);
        params.set("reconnect_attempt", String(reconnectAttempt));
      }
      const displayName = this.localParticipant?.displayName || this.options.displayName;
      if (displayName) params.set("display_name", displayName);
      return `${base}/v1?${params}`;
    }
    connectionLost(reason) {
      if (this.state !== "joined") return;
      log7.warn(`reconnecting: ${reason}`);
      this.session?.close();
      this.session = void 0;
      this.state = "reconnecting";
      this.emit("LocalParticipantReconnecting" /* LocalParticipantReconnecting */);
      this.dropRemoteMedia();
      void this.attemptReconnect(1);
    }
    async attemptReconnect(attempt) {
      if (this.state !== "reconnecting") return;
      const session = this.newSession();
      let joined;
      try {
        joined = await session.open(this.url(attempt), RECONNECT_ATTEMPT_TIMEOUT_MS);
      } catch (error) {
        session.close();
        if (this.state !== "reconnecting" || this.session !== session) return;
        this.session = void 0;
        const tokenRefused = error instanceof JWTError && error.code === 6 /* InvalidJWT */;
        log7.warn(`reconnection attempt ${attempt} failed: ${error instanceof Error ? error.message : String(error)}`);
        if (tokenRefused || attempt >= RECONNECT_ATTEMPTS) {
          this.disconnect(new DisconnectedError("Failed to reconnect to the server."));
          return;
        }
        this.reconnectTimer = this.runtime.setTimeout(() => void this.attemptReconnect(attempt + 1), RECONNECT_DELAY_MS);
        return;
      }
      if (this.state !== "reconnecting" || this.session !== session) {
        session.close();
        return;
      }
      const local = this.localParticipant;
      this.limits = joined.limits;
      this.sessionId = joined.session_id;
      this.ratedConnectionId = joined.connection_id;
      local.connectionId = joined.connection_id;
      if (joined.participant_id) {
        this.participantId = joined.participant_id;
        local.id = joined.participant_id;
      }
      this.state = "joined";
      this.reconcile(joined);
      if (joined.broadcasting !== this.broadcasting) this.setBroadcasting(joined.broadcasting);
      session.setup(joined);
      const published = local.getTracks();
      if (published.length > 0) session.publisher?.add(published);
      if (this.options.subscriptionMode === "MANUAL" /* Manual */) {
        for (const p of this.participants.values()) {
          if (p.isSubscribed() && p.getTracks().length > 0) {
            this.requestSubscription("subscribe_tracks", p, p.getTracks().map((t) => t.tid)).catch(
              (e) => log7.warn(`could not subscribe to ${p.id} again`, e)
            );
          }
        }
      }
      session.start();
      this.emit("LocalParticipantReconnected" /* LocalParticipantReconnected */, local);
    }
    /** The connection is over for good. */
    disconnect(error) {
      if (this.state === "left" || this.state === "disconnected") return;
      log7.error(error.message);
      this.state = "disconnected";
      this.runtime.clearTimeout(this.reconnectTimer);
      this.session?.close();
      this.session = void 0;
      this.dropRemoteMedia();
      this.emit("LocalParticipantReconnectFailed" /* LocalParticipantReconnectFailed */, error);
    }
    /** Brings the registry in line with the participant list of a reconnection's `joined`. */
    reconcile(joined) {
      const listed = /* @__PURE__ */ new Set();
      for (const wire of joined.participants) {
        if (wire.connection_id === joined.connection_id) continue;
        listed.add(wire.connection_id);
        const known = this.participants.get(wire.connection_id);
        if (known) this.updateParticipant(known, wire);
        else this.addParticipant(wire);
      }
      for (const p of [...this.participants.values()]) if (!listed.has(p.connectionId)) this.removeParticipant(p);
    }
    // ---------------------------------------------------------------- server messages
    onMessage(message) {
      const local = this.localParticipant;
      const self = local?.connectionId;
      switch (message.type) {
        case "participant_connected": {
          const wire = message.value;
          if (wire.connection_id === self) return;
          const known = this.participants.get(wire.connection_id);
          if (known) this.updateParticipant(known, wire);
          else this.addParticipant(wire);
          return;
        }
        case "participant_disconnected": {
          const p = this.participants.get(message.value.connection_id);
          if (p) this.removeParticipant(p);
          return;
        }
        case "add_track": {
          const { connection_id: conn, track } = message.value;
          if (conn === self) return;
          const p = this.participants.get(conn);
          if (!p) {
            log7.warn(`add_track for an unknown participant ${conn}`);
            return;
          }
          if (this.findTrack(p, track.tid)) return;
          this.addRemoteTrack(p, track, true);
          return;
        }
        case "remove_track": {
          const p = this.participants.get(message.value.connection_id);
          if (p) this.removeRemoteTrack(p, message.value.track.tid);
          return;
        }
        case "track_muted":
        case "track_unmuted": {
          const p = this.participants.get(message.value.connection_id);
          const t = p && this.findTrack(p, message.value.track.tid);
          if (p && t) this.setRemoteMuted(p, t, message.type === "track_muted");
          return;
        }
        case "active_speakers":
          this.onActiveSpeakers(message.value.tracks);
          return;
        case "custom_event": {
          const wire = message.value;
          if (wire.connection_id === self) return;
          const p = this.participants.get(wire.connection_id);
          if (!p) {
            log7.warn(`custom_event from an unknown participant ${wire.connection_id}`);
            return;
          }
          const event = { payload: wire.payload, sequenceNumber: wire.sequence_num, scope: wire.scope };
          this.emit("ParticipantCustomEventPublished" /* ParticipantCustomEventPublished */, p, event);
          p.emit("CustomEventPublished" /* CustomEventPublished */, event);
          return;
        }
        case "participant_update": {
          const { connection_id: conn, display_name: name } = message.value;
          if (typeof name !== "string") return;
          if (local && conn === self) {
            if (local.displayName === name) return;
            local.displayName = name;
            local.emit("DisplayNameChanged" /* DisplayNameChanged */);
            this.emit("ParticipantDisplayNameChanged" /* ParticipantDisplayNameChanged */, local);
            return;
          }
          const p = this.participants.get(conn);
          if (p) this.setDisplayName(p, name);
          return;
        }
        case "broadcast_state_update":
          if (message.value === 1 /* Started */) this.setBroadcasting(true);
          else if (message.value === 2 /* Ended */) this.setBroadcasting(false);
          return;
        case "pending_track_ack":
          return;
        default:
          log7.warn(`unexpected ${message.type} message`);
      }
    }
    setBroadcasting(broadcasting) {
      if (this.broadcasting === broadcasting) return;
      this.broadcasting = broadcasting;
      this.emit("BroadcastStateChanged" /* BroadcastStateChanged */, broadcasting);
    }
    // ---------------------------------------------------------------- the registry
    addParticipant(wire) {
      const p = new RemoteParticipant(this.remoteBackend, wire.connection_id, wire.role, wire.participant_id, wire.status, wire.display_name);
      this.participants.set(p.connectionId, p);
      for (const t of wire.tracks) this.addRemoteTrack(p, t, false);
      this.emit("ParticipantJoined" /* ParticipantJoined */, p);
      for (const t of p.getTracks()) {
        const media = this.earlyMedia.get(t.tid);
        if (media) {
          this.earlyMedia.delete(t.tid);
          this.onRemoteMedia(t.tid, media);
        }
      }
    }
    /** A known participant listed again: name, tracks and mute states as listed. */
    updateParticipant(p, wire) {
      if (typeof wire.display_name === "string") this.setDisplayName(p, wire.display_name);
      const listed = new Map(wire.tracks.map((t) => [t.tid, t]));
      for (const t of p.getTracks()) if (!listed.has(t.tid)) this.removeRemoteTrack(p, t.tid);
      for (const wt of wire.tracks) {
        const t = this.findTrack(p, wt.tid);
        if (!t) this.addRemoteTrack(p, wt, true);
        else if (typeof wt.muted === "boolean" && wt.muted !== t.muted) this.setRemoteMuted(p, t, wt.muted);
      }
    }
    /** Emits the track (and media) events of a departure, then ParticipantLeft. */
    removeParticipant(p, { tracks = true } = {}) {
      p.status = 2 /* Disconnected */;
      for (const t of p.getTracks()) {
        if (t.hasMedia()) this.unsubscribeTrack(p, t);
        if (tracks) {
          p.emit("TrackUnpublished" /* TrackUnpublished */, t);
          this.emit("ParticipantTrackUnpublished" /* ParticipantTrackUnpublished */, p, t);
        }
        this.forgetTrack(p, t);
      }
      this.participants.delete(p.connectionId);
      if (this.speaking.delete(p.connectionId)) p.emit("StoppedSpeaking" /* StoppedSpeaking */);
      this.emit("ParticipantLeft" /* ParticipantLeft */, p);
      p.removeAllListeners();
    }
    addRemoteTrack(p, wire, announce) {
      if (wire.type !== 1 /* Audio */ && wire.type !== 2 /* Video */) {
        log7.warn(`ignored track ${wire.tid} of unknown type ${wire.type}`);
        return;
      }
      const track = new RemoteTrack({
        tid: wire.tid,
        kind: wire.type,
        name: typeof wire.name === "string" ? wire.name : "",
        muted: wire.muted === true,
        source: toTrackSource(wire.source),
        width: typeof wire.width === "number" ? wire.width : 0,
        height: typeof wire.height === "number" ? wire.height : 0,
        metadata: wire.metadata ?? {}
      });
      (track.kind === 1 /* Audio */ ? p.audioTracks : p.videoTracks).set(track.tid, track);
      this.tracks.set(track.tid, { participant: p, track });
      if (!announce) return;
      p.emit("TrackPublished" /* TrackPublished */, track);
      this.emit("ParticipantTrackPublished" /* ParticipantTrackPublished */, p, track);
      if (this.options.subscriptionMode === "MANUAL" /* Manual */ && p.isSubscribed()) {
        this.requestSubscription("subscribe_tracks", p, [track.tid]).catch((e) => log7.warn(`could not subscribe to ${track.tid}`, e));
      }
      const media = this.earlyMedia.get(track.tid);
      if (media) {
        this.earlyMedia.delete(track.tid);
        this.onRemoteMedia(track.tid, media);
      }
    }
    /** Unsubscribed (if it had media), then unpublished. */
    removeRemoteTrack(p, tid) {
      const t = this.findTrack(p, tid);
      if (!t) return;
      if (t.hasMedia()) this.unsubscribeTrack(p, t);
      this.forgetTrack(p, t);
      p.emit("TrackUnpublished" /* TrackUnpublished */, t);
      this.emit("ParticipantTrackUnpublished" /* ParticipantTrackUnpublished */, p, t);
      t.detach();
      t.removeAllListeners();
    }
    forgetTrack(p, t) {
      (t.kind === 1 /* Audio */ ? p.audioTracks : p.videoTracks).delete(t.tid);
      if (this.tracks.get(t.tid)?.track === t) this.tracks.delete(t.tid);
      this.earlyMedia.delete(t.tid);
      this.wake(t.tid);
    }
    findTrack(p, tid) {
      return p.audioTracks.get(tid) ?? p.videoTracks.get(tid);
    }
    setRemoteMuted(p, t, muted) {
      if (t.muted === muted) return;
      t.muted = muted;
      this.emit(muted ? "ParticipantTrackMuted" /* ParticipantTrackMuted */ : "ParticipantTrackUnmuted" /* ParticipantTrackUnmuted */, p, t);
      p.emit(muted ? "TrackMuted" /* TrackMuted */ : "TrackUnmuted" /* TrackUnmuted */, t);
      t.emit(muted ? "Muted" /* Muted */ : "Unmuted" /* Unmuted */);
    }
    setDisplayName(p, name) {
      if (p.displayName === name) return;
      p.displayName = name;
      this.emit("ParticipantDisplayNameChanged" /* ParticipantDisplayNameChanged */, p);
      p.emit("DisplayNameChanged" /* DisplayNameChanged */);
    }
    // ---------------------------------------------------------------- media
    onRemoteMedia(tid, media) {
      const entry = this.tracks.get(tid);
      if (!entry) {
        this.earlyMedia.set(tid, media);
        return;
      }
      const { participant: p, track: t } = entry;
      t.setMedia(media);
      const automatic = this.options.subscriptionMode === "AUTOMATIC" /* Automatic */;
      if (automatic) p.subscribed = true;
      if (!t.announced && (automatic || p.isSubscribed())) this.announce(p, t);
    }
    announce(p, t) {
      t.announced = true;
      p.emit("TrackSubscribed" /* TrackSubscribed */, t);
      this.emit("ParticipantTrackSubscribed" /* ParticipantTrackSubscribed */, p, t);
      this.wake(t.tid);
    }
    onRemoteMediaEnded(tid, media) {
      if (this.earlyMedia.get(tid) === media) this.earlyMedia.delete(tid);
      const entry = this.tracks.get(tid);
      if (!entry || entry.track.track !== media) return;
      this.unsubscribeTrack(entry.participant, entry.track);
    }
    unsubscribeTrack(p, t) {
      t.setMedia(void 0);
      const announced = t.announced;
      t.announced = false;
      if (this.options.subscriptionMode === "AUTOMATIC" /* Automatic */) p.subscribed = p.getTracks().some((x) => x.hasMedia());
      if (announced) {
        p.emit("TrackUnsubscribed" /* TrackUnsubscribed */, t);
        this.emit("ParticipantTrackUnsubscribed" /* ParticipantTrackUnsubscribed */, p, t);
      }
      this.wake(t.tid);
    }
    /** Every remote track with media is unsubscribed (its peer connection is gone). */
    dropRemoteMedia() {
      this.earlyMedia.clear();
      for (const p of this.participants.values()) for (const t of p.getTracks()) if (t.hasMedia()) this.unsubscribeTrack(p, t);
    }
    onActiveSpeakers(entries) {
      const local = this.localParticipant;
      const speakers = [];
      const now = /* @__PURE__ */ new Set();
      for (const e of entries) {
        let speaker;
        if (local && e.connection_id === local.connectionId) {
          const track = local.audioTracks.get(e.track_id) ?? local.videoTracks.get(e.track_id);
          if (track) speaker = { participant: local, track };
        } else {
          const p = this.participants.get(e.connection_id);
          const track = p && this.findTrack(p, e.track_id);
          if (p && track) speaker = { participant: p, track };
        }
        if (!speaker || now.has(e.connection_id)) continue;
        now.add(e.connection_id);
        speakers.push(speaker);
      }
      const tell = /* @__PURE__ */ __name((conn, event) => {
        if (local && conn === local.connectionId) local.emit(event);
        else this.participants.get(conn)?.emit(event);
      }, "tell");
      for (const conn of now) if (!this.speaking.has(conn)) tell(conn, "StartedSpeaking" /* StartedSpeaking */);
      for (const conn of this.speaking) if (!now.has(conn)) tell(conn, "StoppedSpeaking" /* StoppedSpeaking */);
      this.speaking = now;
      const key = speakers.map((s) => `${s.participant.connectionId}/${s.track.tid}`).join(",");
      if (key === this.speakersKey) return;
      this.speakersKey = key;
      this.emit("ActiveSpeakersChanged" /* ActiveSpeakersChanged */, speakers);
    }
    // ---------------------------------------------------------------- manual subscriptions
    requestSubscription(kind, p, tids) {
      const session = this.session;
      if (this.state !== "joined" || !session) {
        return Promise.reject(new WebsocketError("Request failed as connection to the server has disconnected"));
      }
      return session.signal.subscription(kind, p.connectionId, tids);
    }
    /** Resolves when `done()` holds, re-checked whenever media of `tids` changes; false on timeout. */
    waitForMedia(tids, done, timeoutMs) {
      return new Promise((resolve) => {
        let finished = false;
        const check = /* @__PURE__ */ __name(() => {
          if (!done() && this.state !== "left") return;
          finish(true);
        }, "check");
        const finish = /* @__PURE__ */ __name((ok) => {
          if (finished) return;
          finished = true;
          this.runtime.clearTimeout(timer);
          for (const tid of tids) this.mediaWaiters.get(tid)?.delete(check);
          resolve(ok);
        }, "finish");
        const timer = this.runtime.setTimeout(() => finish(false), timeoutMs);
        for (const tid of tids) {
          let set = this.mediaWaiters.get(tid);
          if (!set) this.mediaWaiters.set(tid, set = /* @__PURE__ */ new Set());
          set.add(check);
        }
        check();
      });
    }
    wake(tid) {
      const set = this.mediaWaiters.get(tid);
      if (!set) return;
      for (const w of [...set]) w();
      if (set.size === 0) this.mediaWaiters.delete(tid);
    }
    async subscribe(p) {
      const tids = p.getTracks().map((t) => t.tid);
      try {
        await this.requestSubscription("subscribe_tracks", p, tids);
      } catch (e) {
        throw e instanceof SubscriptionError ? e : new SubscriptionError(e instanceof Error ? e.message : "Unknown error subscribing to participant");
      }
      for (const t of p.getTracks()) if (t.hasMedia() && !t.announced && p.isSubscribed()) this.announce(p, t);
      const current = /* @__PURE__ */ __name(() => p.getTracks().filter((t) => tids.includes(t.tid)), "current");
      const ok = await this.waitForMedia(tids, () => current().every((t) => t.announced) || !p.isSubscribed(), SUBSCRIBE_MEDIA_TIMEOUT_MS);
      if (!ok) throw new SubscriptionError("Subscribed, but the media did not arrive in time");
    }
    async unsubscribe(p) {
      const tids = p.getTracks().map((t) => t.tid);
      try {
        await this.requestSubscription("unsubscribe_tracks", p, tids);
      } catch (e) {
        throw e instanceof SubscriptionError ? e : new SubscriptionError(e instanceof Error ? e.message : "Unknown error unsubscribing to participant");
      }
      const withMedia = /* @__PURE__ */ __name(() => p.getTracks().filter((t) => tids.includes(t.tid) && t.hasMedia()), "withMedia");
      const ok = await this.waitForMedia(tids, () => withMedia().length === 0 || p.isSubscribed(), UNSUBSCRIBE_MEDIA_TIMEOUT_MS);
      if (!ok && !p.isSubscribed()) for (const t of withMedia()) this.unsubscribeTrack(p, t);
    }
  };
  __name(_Space, "Space");
  var Space = _Space;

  // src/space/types.ts
  var CustomEventScope = /* @__PURE__ */ ((CustomEventScope2) => {
    CustomEventScope2[CustomEventScope2["UNKNOWN"] = 0] = "UNKNOWN";
    CustomEventScope2[CustomEventScope2["SESSION"] = 1] = "SESSION";
    return CustomEventScope2;
  })(CustomEventScope || {});

  // src/media.ts
  var log8 = new Logger("media");
  var CAMERA = { width: 1280, height: 720 };
  var SCREEN = { width: 2560, height: 1440 };
  function constraintsOf(options) {
    const { name: _name, constraints, ...rest } = options;
    delete rest.metadata;
    return { ...rest, ...constraints };
  }
  __name(constraintsOf, "constraintsOf");
  function capVideo(c, screen) {
    const cap = screen ? SCREEN : CAMERA;
    const what = screen ? "Screensharing in Oriel is capped at 2560x1440" : "Camera video in Oriel is capped at 1280x720";
    const out = { ...c };
    for (const dim of ["width", "height"]) {
      const value = out[dim];
      if (value === void 0) {
        out[dim] = cap[dim];
      } else if (typeof value === "number") {
        if (value > cap[dim]) {
          log8.warn(`${what}: ${dim} set to ${cap[dim]}`);
          out[dim] = cap[dim];
        }
      } else if (typeof value === "object" && value !== null) {
        const { min, ideal, max, exact } = value;
        if ([min, ideal, max, exact].some((v) => typeof v === "number" && v > cap[dim])) {
          throw new Error(`Invalid ${screen ? "screenshare" : "camera"} video ${dim} constraints. ${what}.`);
        }
      } else {
        throw new Error(`Invalid video ${dim} constraint. See https://developer.mozilla.org/en-US/docs/Web/API/MediaDevices/getUserMedia for valid constraints`);
      }
    }
    return out;
  }
  __name(capVideo, "capVideo");
  function audioConstraints(option, byDefault) {
    if (option === void 0) return byDefault ? {} : false;
    if (typeof option === "boolean") return option ? {} : false;
    return constraintsOf(option);
  }
  __name(audioConstraints, "audioConstraints");
  function videoConstraints(option, screen) {
    const cap = screen ? SCREEN : CAMERA;
    if (option === false) return false;
    if (option === void 0 || option === true) return { ...cap };
    return capVideo(constraintsOf(option), screen);
  }
  __name(videoConstraints, "videoConstraints");
  function localTrack(track, source, options) {
    const kind = track.kind === "audio" ? 1 /* Audio */ : 2 /* Video */;
    const option = kind === 1 /* Audio */ ? options?.audio : options?.video;
    const settings = track.getSettings();
    return new LocalTrack(
      {
        tid: defaultRuntime.uuid(),
        kind,
        name: typeof option === "object" && option?.name ? option.name : track.label,
        muted: false,
        source,
        width: settings.width || 0,
        height: settings.height || 0,
        metadata: {}
      },
      track,
      settings.deviceId
    );
  }
  __name(localTrack, "localTrack");
  function mediaDevices() {
    const devices = globalThis.navigator?.mediaDevices;
    if (!devices) throw new Error("navigator.mediaDevices is not available (a secure context, https or localhost, is needed)");
    return devices;
  }
  __name(mediaDevices, "mediaDevices");
  async function getUserMedia(options) {
    const video = videoConstraints(options?.video, false);
    const audio = audioConstraints(options?.audio, true);
    const stream = await mediaDevices().getUserMedia({ video, audio });
    return stream.getTracks().map((t) => localTrack(t, t.kind === "audio" ? "microphone" /* Microphone */ : "camera" /* Camera */, options));
  }
  __name(getUserMedia, "getUserMedia");
  async function getDisplayMedia(options) {
    const video = videoConstraints(options?.video ?? true, true);
    const audio = audioConstraints(options?.audio, false);
    const frameRate = windowValue("MUX_SPACES_GOOD_VIDEO") === true ? 30 : 15;
    const stream = await mediaDevices().getDisplayMedia({ video: video ? { ...video, frameRate } : false, audio });
    return stream.getTracks().map((t) => {
      if (t.kind === "video" && "contentHint" in t) t.contentHint = "detail";
      return localTrack(t, t.kind === "audio" ? "screenshareaudio" /* ScreenshareAudio */ : "screenshare" /* Screenshare */, options);
    });
  }
  __name(getDisplayMedia, "getDisplayMedia");
  async function getLocalTracksFromMediaStream(streamName, stream) {
    return stream.getTracks().map((t) => {
      if (t.kind !== "audio" && t.kind !== "video") {
        throw new Error(`Unknown track kind, expected one of [audio, video] got "${t.kind}"`);
      }
      const settings = t.getSettings();
      const width = settings.width || 0;
      const height = settings.height || 0;
      if (width > SCREEN.width || height > SCREEN.height) throw new Error(`Video track must be within dimensions of ${SCREEN.width}x${SCREEN.height}`);
      return new LocalTrack(
        {
          tid: t.id,
          kind: t.kind === "audio" ? 1 /* Audio */ : 2 /* Video */,
          name: streamName || t.id,
          muted: false,
          source: "other" /* Other */,
          width,
          height,
          metadata: {}
        },
        t,
        settings.deviceId
      );
    });
  }
  __name(getLocalTracksFromMediaStream, "getLocalTracksFromMediaStream");
  return __toCommonJS(index_exports);
})();
