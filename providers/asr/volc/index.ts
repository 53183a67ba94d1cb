/**
 * Volcengine (Doubao) "bigmodel" streaming ASR as an AsrProvider (vendors.md §6): one WebSocket
 * per utterance (the service takes one request per connection), opened as soon as the stream is,
 * so the handshake overlaps the user's speech. See stream.ts for the exchange.
 *
 * Config (providers.asr.<name>):
 *   type: volc
 *   url: wss://openspeech.bytedance.com/api/v3/sauc/bigmodel_async   (or …/bigmodel, …/bigmodel_nostream)
 *   appid: "123456789"            X-Api-App-Key   (alias app_key)
 *   access_token: ${VOLC_TOKEN}   X-Api-Access-Key (alias access_key); or api_key: X-Api-Key
 *   resource_id: volc.bigasr.sauc.duration
 *   uid: xiaozhi-server           request.user.uid
 *   packet_ms: 200                audio per packet (vendor recommends 100–200)
 *   end_window_size: 800          ms of silence that closes a sentence
 *   enable_itn: true, enable_punc: true, enable_ddc: false
 *   result_type: full             full | single
 *   compression: gzip             gzip | none (request payloads)
 *   numbering: none               none | explicit (sequence numbers in the headers; both accepted)
 *   connect_timeout_ms: 5000
 *   final_timeout_ms: 8000        after the last packet, how long the final may take
 */
import type { AsrCapabilities, AsrOptions, AsrProvider, AsrStream } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import type { Cfg } from '../../volc/config.js';
import { parseVolcAsrConfig, type VolcAsrConfig } from './config.js';
import { VolcAsrStream } from './stream.js';
import { v3Headers } from '../../volc/socket.js';
import { wsProbe, type HttpProbe } from '../../http/probe.js';

export { fullRequest, parseVolcAsrConfig, type VolcAsrConfig } from './config.js';

export class VolcAsr implements AsrProvider {
  readonly id: string;
  // The bigmodel recognises Mandarin, English and several Chinese dialects (Cantonese among them).
  readonly caps: AsrCapabilities = { streaming: true, sampleRate: UPLINK_RATE, languages: ['zh', 'en', 'yue'] };
  readonly cfg: VolcAsrConfig;
  readonly #open = new Set<VolcAsrStream>();

  constructor(id: string, cfg: VolcAsrConfig) {
    this.id = id;
    this.cfg = cfg;
  }

  open(opts: AsrOptions): AsrStream {
    const s = new VolcAsrStream(this.cfg, opts, (gone) => this.#open.delete(gone));
    if (!s.finished) this.#open.add(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of [...this.#open]) s.shutdown();
    this.#open.clear();
  }
}

export function createVolcAsr(id: string, cfg: Cfg, path?: string): AsrProvider {
  return new VolcAsr(id, parseVolcAsrConfig(cfg, path));
}

/** The pool's health check: the gateway's WebSocket handshake with our credentials, closed at once. */
export function volcAsrProbe(cfg: Cfg, path?: string): HttpProbe {
  const c = parseVolcAsrConfig(cfg, path);
  return wsProbe(() => ({ url: c.url, headers: v3Headers(c.credentials) }), c.connectTimeoutMs);
}
