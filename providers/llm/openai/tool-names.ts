/**
 * Tool names as vendors accept them. OpenAI-style APIs reject a function name outside
 * `^[a-zA-Z0-9_-]{1,64}$`, yet our tools carry names like `self.audio_speaker.set_volume` (device
 * MCP) or `weather:today` (external MCP servers). Each request gets a two-way map: names are
 * sanitised on the way out and the model's calls are mapped back, so the rest of the server only
 * ever sees the original names.
 */

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

export class ToolNames {
  readonly #toVendor = new Map<string, string>();
  readonly #fromVendor = new Map<string, string>();

  /** Registers the names a request uses (its tool definitions and the calls in its history). */
  constructor(names: Iterable<string>) {
    for (const n of names) this.out(n);
  }

  /** The vendor-safe name for `name`, stable within this request and unique among its names. */
  out(name: string): string {
    const known = this.#toVendor.get(name);
    if (known !== undefined) return known;
    let safe = VALID.test(name) ? name : (name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'tool');
    // Two names can collapse into one (`a.b` and `a_b`): suffix a counter, keeping 64 chars.
    for (let n = 2; this.#fromVendor.has(safe); n++) {
      const tail = `_${n}`;
      safe = safe.slice(0, 64 - tail.length) + tail;
    }
    this.#toVendor.set(name, safe);
    this.#fromVendor.set(safe, name);
    return safe;
  }

  /** The original name of a vendor-side name; unknown names (a model inventing one) pass unchanged. */
  back(vendorName: string): string {
    return this.#fromVendor.get(vendorName) ?? vendorName;
  }
}
