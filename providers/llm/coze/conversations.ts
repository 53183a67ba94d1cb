/**
 * Conversation ids per end user, for vendors that keep the history on their side (Coze, Dify):
 * a device's turns continue one vendor conversation while it keeps talking, and start a fresh one
 * after `ttlMs` of silence. In memory and per provider instance — losing it (a restart, another
 * worker) only starts a new conversation. Bounded, oldest first out, so a fleet of devices that
 * each talked once cannot grow it without limit.
 */
export class ConversationMemory {
  readonly #ids = new Map<string, { id: string; until: number }>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries = 50_000,
    readonly now: () => number = Date.now,
  ) {}

  get(user: string): string | undefined {
    const e = this.#ids.get(user);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#ids.delete(user);
      return undefined;
    }
    return e.id;
  }

  /** Remembers (or refreshes) the user's conversation; each turn extends its life. */
  set(user: string, id: string): void {
    this.#ids.delete(user); // re-inserted last: Map order is then least recently used first
    this.#ids.set(user, { id, until: this.now() + this.ttlMs });
    while (this.#ids.size > this.maxEntries) {
      const oldest = this.#ids.keys().next().value;
      if (oldest === undefined) break;
      this.#ids.delete(oldest);
    }
  }

  /** Drops the user's conversation (the vendor lost it or it is stuck); only `id` if given. */
  forget(user: string, id?: string): void {
    if (id === undefined || this.#ids.get(user)?.id === id) this.#ids.delete(user);
  }

  get size(): number {
    return this.#ids.size;
  }
}
