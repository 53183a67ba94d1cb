/**
 * The bytes of a transcription upload: a WAV file made from the utterance's PCM (the API takes
 * no raw PCM, vendors.md §2.1) and a multipart/form-data body around it, built by hand so the
 * request is one Buffer undici sends with a Content-Length.
 */
import { randomBytes } from 'node:crypto';

/** A 44-byte RIFF header followed by the samples: 16-bit mono at `rate`. */
export function wavFile(chunks: readonly Int16Array[], samples: number, rate: number): Buffer {
  const bytes = samples * 2;
  const out = Buffer.alloc(44 + bytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + bytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(bytes, 40);
  let at = 44;
  for (const c of chunks) {
    // Samples are little-endian on every host Node runs the server on (x64, arm64).
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += c.byteLength;
  }
  return out;
}

export interface FilePart {
  readonly name: string;
  readonly filename: string;
  readonly type: string;
  readonly data: Uint8Array;
}

/** Fields in order, then the file; returns the body and its Content-Type (with the boundary). */
export function multipart(fields: readonly (readonly [string, string])[], file: FilePart): { body: Buffer; contentType: string } {
  const boundary = `----xz${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  const quote = (s: string): string => s.replace(/["\r\n\\]/g, '_');
  for (const [name, value] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`, 'utf8'));
  }
  parts.push(
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.name)}"; filename="${quote(file.filename)}"\r\nContent-Type: ${file.type}\r\n\r\n`, 'utf8'),
    Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength),
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
