// Console logging with a scope. Debug output only with `window.VERBOSE_LOGGING = true`
// (the switch `@mux/spaces-web` reads).

import { windowValue } from './runtime';

export class Logger {
  constructor(private readonly scope: string) {}

  debug(message: string, ...args: unknown[]): void {
    if (windowValue('VERBOSE_LOGGING') === true) console.debug(`[oriel ${this.scope}] ${message}`, ...args);
  }

  info(message: string, ...args: unknown[]): void {
    if (windowValue('VERBOSE_LOGGING') === true) console.info(`[oriel ${this.scope}] ${message}`, ...args);
  }

  warn(message: string, ...args: unknown[]): void {
    console.warn(`[oriel ${this.scope}] ${message}`, ...args);
  }

  error(message: string, ...args: unknown[]): void {
    console.error(`[oriel ${this.scope}] ${message}`, ...args);
  }
}
