/**
 * The one error registry. Every error the server raises has a stable code, a category that says
 * what kind of failure it is, and whether retrying can help. Errors cross threads as plain
 * `WireError` objects (structured clone keeps no prototypes), so callers check `err.code`, never
 * `instanceof` or message text.
 *
 * Layers register their own codes with `defineErrors` at module load; a code can be registered
 * once only, so two modules cannot give one code two meanings.
 */

export type Category =
  | 'auth' // credentials missing, wrong or expired
  | 'forbidden' // authenticated but not allowed
  | 'invalid-request' // the input is wrong; retrying the same input fails again
  | 'rate-limit' // an upstream asked us to slow down
  | 'quota' // a configured or upstream budget is used up
  | 'overloaded' // our own queues are full
  | 'connectivity' // could not reach something
  | 'timeout' // something did not answer in time
  | 'upstream' // a vendor answered with a failure
  | 'unavailable' // the component is restarting or stopping
  | 'cancelled' // the caller gave up (abort, barge-in)
  | 'internal'; // a bug or an unexpected state of ours

export interface ErrorSpec {
  readonly category: Category;
  readonly retryable: boolean;
  readonly message: string;
}

/** The shape an error has on the wire and in logs. */
export interface WireError {
  code: string;
  category: Category;
  retryable: boolean;
  message: string;
  details?: Record<string, unknown>;
  cause?: WireError;
  stack?: string;
}

const registry = new Map<string, ErrorSpec>();

/** Registers codes; returns an object mapping each code to itself so callers get typed constants. */
export function defineErrors<const T extends Record<string, ErrorSpec>>(specs: T): { readonly [K in keyof T]: K } {
  const codes = {} as { [K in keyof T]: K };
  for (const [code, spec] of Object.entries(specs)) {
    const existing = registry.get(code);
    if (existing && (existing.category !== spec.category || existing.retryable !== spec.retryable)) {
      throw new Error(`error code ${code} is already registered with another meaning`);
    }
    registry.set(code, Object.freeze({ ...spec }));
    (codes as Record<string, string>)[code] = code;
  }
  return Object.freeze(codes);
}

export function errorSpec(code: string): ErrorSpec | undefined {
  return registry.get(code);
}

/** Every registered code, for documentation checks and the operations API. */
export function registeredErrors(): ReadonlyMap<string, ErrorSpec> {
  return registry;
}

export class XzError extends Error {
  readonly code: string;
  readonly category: Category;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message?: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    const spec = registry.get(code) ?? registry.get(E.XZ_ERR_INTERNAL)!;
    super(message ?? spec.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'XzError';
    this.code = registry.has(code) ? code : E.XZ_ERR_INTERNAL;
    this.category = spec.category;
    this.retryable = spec.retryable;
    this.details = opts.details;
  }

  toJSON(): WireError {
    return toWire(this);
  }
}

export function xzError(code: string, message?: string, opts?: { details?: Record<string, unknown>; cause?: unknown }): XzError {
  return new XzError(code, message, opts);
}

export function isXzError(x: unknown): x is XzError {
  return x instanceof XzError;
}

/** True for anything carrying a registered code: an XzError or a WireError that crossed a thread. */
export function hasCode(x: unknown, code?: string): x is { code: string } {
  if (typeof x !== 'object' || x === null) return false;
  const c = (x as { code?: unknown }).code;
  return typeof c === 'string' && registry.has(c) && (code === undefined || c === code);
}

/** Turns anything thrown into a plain, cloneable WireError. Unknown throwables become XZ_ERR_INTERNAL. */
export function toWire(err: unknown, depth = 0): WireError {
  if (err instanceof XzError) {
    const w: WireError = { code: err.code, category: err.category, retryable: err.retryable, message: err.message };
    if (err.details) w.details = err.details;
    if (err.stack) w.stack = err.stack;
    if (err.cause !== undefined && depth < 4) w.cause = toWire(err.cause, depth + 1);
    return w;
  }
  if (hasCode(err)) {
    const plain = err as Partial<WireError> & { code: string };
    const spec = registry.get(plain.code)!;
    return {
      code: plain.code,
      category: spec.category,
      retryable: typeof plain.retryable === 'boolean' ? plain.retryable : spec.retryable,
      message: typeof plain.message === 'string' ? plain.message : spec.message,
      ...(plain.details ? { details: plain.details } : {}),
      ...(plain.cause && depth < 4 ? { cause: toWire(plain.cause, depth + 1) } : {}),
    };
  }
  const spec = registry.get(E.XZ_ERR_INTERNAL)!;
  if (err instanceof Error) {
    const w: WireError = { code: E.XZ_ERR_INTERNAL, category: spec.category, retryable: spec.retryable, message: err.message };
    if (err.stack) w.stack = err.stack;
    return w;
  }
  return { code: E.XZ_ERR_INTERNAL, category: spec.category, retryable: spec.retryable, message: String(err) };
}

/** Rebuilds an XzError from a WireError that crossed a thread; the remote stack is kept as detail. */
export function fromWire(w: WireError): XzError {
  // A code registered only on the thread that raised it (a worker module's own errors) keeps its
  // meaning here rather than collapsing into XZ_ERR_INTERNAL.
  if (!registry.has(w.code) && /^XZ_ERR_[A-Z0-9_]+$/.test(w.code) && typeof w.category === 'string') {
    registry.set(w.code, Object.freeze({ category: w.category, retryable: !!w.retryable, message: w.message }));
  }
  const err = new XzError(w.code, w.message, {
    ...(w.details ? { details: w.details } : {}),
    ...(w.cause ? { cause: fromWire(w.cause) } : {}),
  });
  if (w.stack) err.stack = `${err.name} [${err.code}]: ${err.message}\n    --- remote ---\n${w.stack}`;
  return err;
}

/** The runtime's own codes. */
export const E = defineErrors({
  XZ_ERR_INTERNAL: { category: 'internal', retryable: false, message: 'internal error' },
  XZ_ERR_ACTOR_FAILED: { category: 'internal', retryable: false, message: 'actor failed while handling a message' },
  XZ_ERR_NO_SUCH_ACTOR: { category: 'invalid-request', retryable: false, message: 'no actor at this address' },
  XZ_ERR_ACTOR_EXISTS: { category: 'invalid-request', retryable: false, message: 'an actor already lives at this address' },
  XZ_ERR_UNKNOWN_MESSAGE: { category: 'invalid-request', retryable: false, message: 'message type not understood' },
  XZ_ERR_MAILBOX_FULL: { category: 'overloaded', retryable: true, message: 'mailbox full' },
  XZ_ERR_REQUEST_TIMEOUT: { category: 'timeout', retryable: true, message: 'request timed out' },
  XZ_ERR_ABORTED: { category: 'cancelled', retryable: false, message: 'aborted' },
  XZ_ERR_STALE_TURN: { category: 'cancelled', retryable: false, message: 'dropped: belongs to an interrupted turn' },
  XZ_ERR_WORKER_CRASHED: { category: 'unavailable', retryable: true, message: 'worker crashed' },
  XZ_ERR_WORKER_BOOT_FAILED: { category: 'internal', retryable: false, message: 'worker failed to boot' },
  XZ_ERR_WORKER_ESCALATED: { category: 'unavailable', retryable: false, message: 'worker restarted too often; gave up' },
  XZ_ERR_SHUTTING_DOWN: { category: 'unavailable', retryable: false, message: 'shutting down' },
  XZ_ERR_DATA_CLONE: { category: 'invalid-request', retryable: false, message: 'message cannot cross threads' },
  // Raised by config/ (which may not import this registry) with this exact shape.
  XZ_ERR_CONFIG_INVALID: { category: 'invalid-request', retryable: false, message: 'configuration is invalid' },
});

/** Anything thrown as an XzError: coded errors keep their code, anything else gets `fallback`. */
export function asXzError(e: unknown, fallback: string = E.XZ_ERR_INTERNAL): XzError {
  if (e instanceof XzError) return e;
  const w = toWire(e);
  if (w.code !== E.XZ_ERR_INTERNAL) return fromWire(w);
  return new XzError(fallback, e instanceof Error ? e.message : String(e), { cause: e });
}
