// A typed, Node-style event emitter: the subset of Node's `EventEmitter` API that
// `@mux/spaces-web` exposes on Space, participants and tracks (on/off/once/emit/...), with
// listener types checked per event name.
//
// Unlike Node's emitter, an exception thrown by a listener does not escape `emit()`: it would
// leave the SDK's state half-updated. It is rethrown asynchronously instead (the page sees an
// uncaught error, the SDK carries on).

/** Any listener. */
export type Listener = (...args: any[]) => void;

/** Event name → listener signature. */
export type EventMap<T> = { [K in keyof T]: Listener };

interface Registration {
  fn: Listener;
  once: boolean;
}

export class TypedEventEmitter<Events extends EventMap<Events>> {
  private registrations = new Map<keyof Events, Registration[]>();
  private maxListeners = 10;

  /** Adds `listener` for `event`. */
  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.register(event, listener, false, false);
  }

  /** Same as {@link on}. */
  addListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.register(event, listener, false, false);
  }

  /** Adds `listener` for the next `event` only. */
  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.register(event, listener, true, false);
  }

  /** Adds `listener` before the others of `event`. */
  prependListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.register(event, listener, false, true);
  }

  /** Adds a one-time `listener` before the others of `event`. */
  prependOnceListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.register(event, listener, true, true);
  }

  /** Removes the most recently added registration of `listener` for `event`. */
  off<K extends keyof Events>(event: K, listener: Events[K]): this {
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
  removeListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.off(event, listener);
  }

  /** Removes every listener of `event`, or of every event. */
  removeAllListeners<K extends keyof Events>(event?: K): this {
    if (event === undefined) this.registrations.clear();
    else this.registrations.delete(event);
    return this;
  }

  /** Calls the listeners of `event` in order; true if there were any. */
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean {
    const list = this.registrations.get(event);
    if (!list || list.length === 0) return false;
    for (const registration of [...list]) {
      if (registration.once) this.off(event, registration.fn as Events[K]);
      try {
        registration.fn.apply(this, args);
      } catch (error) {
        // An application bug must not corrupt the SDK's state: report it, carry on.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
    return true;
  }

  /** The listeners of `event`. */
  listeners<K extends keyof Events>(event: K): Events[K][] {
    return (this.registrations.get(event) ?? []).map((r) => r.fn as Events[K]);
  }

  /** Same as {@link listeners}. */
  rawListeners<K extends keyof Events>(event: K): Events[K][] {
    return this.listeners(event);
  }

  /** How many listeners `event` has. */
  listenerCount<K extends keyof Events>(event: K): number {
    return this.registrations.get(event)?.length ?? 0;
  }

  /** The events that have listeners. */
  eventNames(): (keyof Events)[] {
    return [...this.registrations.keys()];
  }

  /** Above this many listeners per event a warning is logged (0: never). */
  setMaxListeners(n: number): this {
    this.maxListeners = n;
    return this;
  }

  getMaxListeners(): number {
    return this.maxListeners;
  }

  private register<K extends keyof Events>(event: K, listener: Events[K], once: boolean, prepend: boolean): this {
    if (typeof listener !== 'function') {
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
}
