/**
 * The spawner's wire format, shared by the client (any thread) and the helper process. One Unix
 * socket carries many runs at once, so every frame names its run:
 *
 *   u32 BE length of what follows │ u8 type │ u32 BE run id │ payload
 *
 * Control frames carry a JSON payload; stdin and stdout chunks carry raw bytes, so audio never goes
 * through JSON or base64.
 *
 *   client → helper: RUN {cmd,args,...} · STDIN bytes · STDIN_END · KILL
 *   helper → client: STARTED {pid,spawnMs} · STDOUT bytes · EXIT {code,signal,stderr,reason} · ERROR {code,message}
 */
export const F = {
  RUN: 1,
  STDIN: 2,
  STDIN_END: 3,
  KILL: 4,
  STARTED: 16,
  STDOUT: 17,
  EXIT: 18,
  ERROR: 19,
} as const;
export type FrameType = (typeof F)[keyof typeof F];

const HEAD = 9; // type + run id, after the length
/** Larger frames mean a broken peer; chunks are split well below this. */
export const MAX_FRAME = 16 * 1024 * 1024;
/** Client stdin is cut into chunks of at most this, so one big write cannot hog the socket. */
export const MAX_CHUNK = 256 * 1024;

export interface RunRequest {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** 'pipe': STDIN frames follow; 'ignore': the child reads /dev/null. */
  stdin: 'pipe' | 'ignore';
  timeoutMs?: number;
  stdoutCapBytes?: number;
}

/** Why the helper ended a process, when it was the helper's doing. */
export type ExitReason = 'killed' | 'timeout' | 'output-cap' | 'disconnected';

export interface ExitReport {
  code: number | null;
  signal: string | null;
  /** The tail of what the process wrote to stderr. */
  stderr: string;
  reason?: ExitReason;
}

export interface ErrorReport {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function frame(type: FrameType, id: number, payload?: Uint8Array): Buffer {
  const len = payload ? payload.byteLength : 0;
  const out = Buffer.allocUnsafe(4 + HEAD + len);
  out.writeUInt32BE(HEAD + len, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32BE(id >>> 0, 5);
  if (payload) out.set(payload, 4 + HEAD);
  return out;
}

export function jsonFrame(type: FrameType, id: number, value: unknown): Buffer {
  return frame(type, id, Buffer.from(JSON.stringify(value), 'utf8'));
}

export function parseJson<T>(payload: Uint8Array): T {
  return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as T;
}

/**
 * Reassembles frames from socket chunks. The payload handed to `onFrame` may share memory with
 * the socket's buffers: copy it if it must outlive the call.
 */
export class FrameDecoder {
  #pending: Buffer | undefined;
  readonly #onFrame: (type: number, id: number, payload: Buffer) => void;

  constructor(onFrame: (type: number, id: number, payload: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  /** Throws on a malformed stream; the caller drops the connection. */
  push(chunk: Buffer): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (len < HEAD || len > MAX_FRAME) throw new Error(`bad frame length ${len}`);
      if (buf.length - at - 4 < len) break;
      const type = buf.readUInt8(at + 4);
      const id = buf.readUInt32BE(at + 5);
      this.#onFrame(type, id, buf.subarray(at + 4 + HEAD, at + 4 + len));
      at += 4 + len;
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      // Keep a private copy of a small remainder so the big chunk it came from can be collected.
      this.#pending = buf.length < 4096 ? Buffer.from(buf) : buf;
    }
  }
}
