/**
 * MuxError is the base of every error the SDK throws or rejects with. `code` is the server's
 * signaling error type when the error comes from the server, 0 otherwise.
 */
export class MuxError extends Error {
  code: number;

  constructor(message?: string, code = 0) {
    super(message);
    // `name` is the concrete class ("JWTError", ...), not enumerable, like Error's own.
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true, writable: true });
    Object.setPrototypeOf(this, new.target.prototype);
    this.code = code;
  }
}
