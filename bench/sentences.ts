/**
 * The sentence splitter the think actor runs over streamed model text (actors/think/sentences.ts):
 * µs per token of realistic replies arriving in small token pieces, as the OpenAI adapter yields
 * them. One iteration is a whole reply: every piece pushed, then `flush()`.
 *
 *   naive: whole-text regex split  `buf += piece` per token, then one regex split of the whole
 *                                  reply at sentence marks: the floor of "cut text into sentences"
 *                                  (no streaming, no cleaning)
 *   naive: streaming regex cut     after every piece, cut the buffer at the sentence marks a regex
 *                                  finds: what a minimal streaming splitter does; the baseline of
 *                                  the splitter row of the same reply
 *   splitter: CN / EN / CN md      SentenceSplitter.push per piece + flush: rescanning the
 *                                  buffered tail, early first segment, abbreviations and decimals,
 *                                  markdown and emoji cleaning
 *
 * Rows are per token (an iteration's time divided by the reply's pieces), so ops/s reads as
 * tokens per second on one thread. Tasks run interleaved in short rounds, as in the other benches.
 */
import { SentenceSplitter } from '../actors/think/sentences.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const ROUNDS = 3;
const WHOLE = 'naive: whole-text regex split, CN reply';

/** A spoken-style Chinese answer: short clauses, full-width punctuation, a number with a decimal point. */
const CN =
  '好的，我来帮你查一下。今天杭州的天气是多云转晴，气温在十八到二十六度之间，早晚温差比较大，出门记得带一件薄外套。' +
  '下午三点左右可能会有一阵小雨，不过雨量不大，大概持续半个小时。空气质量指数是42，属于优，很适合出去散散步。' +
  '如果你打算去西湖边走走的话，建议傍晚的时候去，那时候风景最好，人也没有白天那么多！另外，明天会降温3.5度左右，' +
  '记得提前准备好衣服哦。还有什么想了解的吗？';

/** The same kind of answer in English: ASCII '.' that must not cut "3.5", abbreviations, commas. */
const EN =
  "Sure, let me check that for you. Today in Hangzhou it's cloudy turning sunny, with temperatures between 18 and 26 degrees, " +
  'so the mornings and evenings feel quite a bit cooler. Bring a light jacket if you go out. There may be a short shower around ' +
  "3 p.m., but it won't last more than half an hour. The air quality index is 42, which counts as good, e.g. fine for a walk. " +
  "If you're heading to West Lake, go in the early evening: the view is best then and it's less crowded! Tomorrow will be about " +
  '3.5 degrees cooler, so plan your clothes ahead. Anything else you would like to know?';

/** What models produce when not told to speak plainly: an emoji, bold, a numbered list, line breaks. */
const CN_MD =
  '😊 当然可以！下面是几个**周末出游**的建议：\n\n' +
  '1. **西湖骑行**：沿着苏堤和白堤骑一圈，大约需要两个小时，沿途可以看到断桥和三潭印月。\n' +
  '2. **灵隐寺**：早上去人比较少，记得带上身份证，门票需要提前在网上预约。\n' +
  '3. **龙井村喝茶**：现在正是新茶上市的季节，可以尝尝明前龙井，价格在每斤八百元左右。\n' +
  '4. **河坊街**：晚上可以去逛逛，吃点`定胜糕`和葱包桧，体验一下老杭州的味道。\n\n' +
  '> 小提示：周末景区人多，建议尽量避开中午的高峰时段。\n\n' +
  '希望你玩得开心！还有其他问题随时问我哦～';

/**
 * Cuts text into model-like token pieces: Chinese 1–3 characters (a CJK character is about one
 * token), English a word with its leading space (long words split in two), punctuation often on
 * its own. Deterministic (a fixed-seed LCG), so every run measures the same pieces.
 */
function tokenize(text: string, seed: number): string[] {
  let x = seed >>> 0;
  const rand = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const out: string[] = [];
  const chars = [...text];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    if (/[A-Za-z0-9']/.test(c) || (c === ' ' && /[A-Za-z0-9']/.test(chars[i + 1] ?? ''))) {
      // A word with its leading space.
      let j = i + 1;
      while (j < chars.length && /[A-Za-z0-9']/.test(chars[j]!)) j++;
      const word = chars.slice(i, j).join('');
      if (word.length > 7 && rand() < 0.7) {
        const cut = 3 + Math.floor(rand() * (word.length - 5));
        out.push(word.slice(0, cut), word.slice(cut));
      } else out.push(word);
      i = j;
    } else if (/[\p{Script=Han}]/u.test(c)) {
      const n = 1 + Math.floor(rand() * 3);
      let j = i;
      while (j < chars.length && j - i < n && /[\p{Script=Han}]/u.test(chars[j]!)) j++;
      out.push(chars.slice(i, j).join(''));
      i = j;
    } else {
      // Punctuation, markup, emoji, whitespace: alone, or glued to the next piece.
      const n = rand() < 0.5 ? 1 : 2;
      out.push(chars.slice(i, i + n).join(''));
      i += n;
    }
  }
  if (out.join('') !== text) throw new Error('tokenizer lost text');
  return out;
}

interface Reply {
  name: string;
  text: string;
  pieces: string[];
  segments: number;
  /** Pieces pushed before the first segment came out. */
  firstAt: number;
}

function reply(name: string, text: string, seed: number): Reply {
  const pieces = tokenize(text, seed);
  const s = new SentenceSplitter();
  let segments = 0;
  let firstAt = -1;
  pieces.forEach((p, i) => {
    segments += s.push(p).length;
    if (firstAt < 0 && segments > 0) firstAt = i + 1;
  });
  segments += s.flush().length;
  return { name, text, pieces, segments, firstAt };
}

const SPLIT = /(?<=[。！？!?；;…\n]|\.\s)/;
const CUT = /[。！？!?；;…\n]+|\.(?=\s)/g;

/** The whole reply at once: concatenate the pieces, one regex split. The floor, no streaming. */
function naiveWhole(pieces: readonly string[]): number {
  let buf = '';
  for (const p of pieces) buf += p;
  return buf.split(SPLIT).filter((x) => x.trim()).length;
}

/**
 * A naive streaming splitter: after every piece, cut the buffer at each sentence mark a regex
 * finds (no early first segment, no abbreviations, no markdown or emoji cleaning).
 */
function naiveStream(pieces: readonly string[]): number {
  let buf = '';
  let n = 0;
  const out: string[] = [];
  for (const p of pieces) {
    buf += p;
    CUT.lastIndex = 0;
    let from = 0;
    for (let m = CUT.exec(buf); m; m = CUT.exec(buf)) {
      const seg = buf.slice(from, m.index + m[0].length).trim();
      if (seg) out.push(seg);
      from = m.index + m[0].length;
    }
    if (from > 0) buf = buf.slice(from);
    n += out.length;
    out.length = 0;
  }
  return buf.trim() ? n + 1 : n;
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const replies = [reply('CN reply', CN, 1), reply('EN reply', EN, 2), reply('CN markdown + emoji', CN_MD, 3)];
  const cn = replies[0]!;
  let sink = 0;
  const tasks: { name: string; per: number; vs?: string; fn: () => void }[] = [
    { name: WHOLE, per: cn.pieces.length, fn: () => void (sink += naiveWhole(cn.pieces)) },
  ];
  for (const r of replies) {
    const naive = `naive: streaming regex cut, ${r.name}`;
    tasks.push({ name: naive, per: r.pieces.length, fn: () => void (sink += naiveStream(r.pieces)) });
    tasks.push({
      name: `splitter: ${r.name}`,
      per: r.pieces.length,
      vs: naive,
      fn: () => {
        const s = new SentenceSplitter();
        let n = 0;
        for (const p of r.pieces) n += s.push(p).length;
        n += s.flush().length;
        if (n !== r.segments) throw new Error(`${r.name}: ${n} segments, want ${r.segments}`);
      },
    });
  }
  const samples = await interleavedSamples(tasks, opts, ROUNDS);
  const rows = tasks.map((t) => perUnitRow(t.name, samples.get(t.name)!, t.per));
  const byName = new Map(rows.map((r) => [r.name, r]));
  tasks.forEach((t, i) => {
    const r = rows[i]!;
    const base = byName.get(t.vs ?? WHOLE)!;
    if (base === r) return;
    r.ratio = r.meanUs / base.meanUs;
    r.vs = base.name;
  });
  const notes = replies.map((r) => {
    const row = byName.get(`splitter: ${r.name}`)!;
    return (
      `splitter: ${r.name}: ${[...r.text].length} chars in ${r.pieces.length} pieces → ${r.segments} segments, ` +
      `the first after ${r.firstAt} pieces; ${((row.meanUs * r.pieces.length) / 1000).toFixed(3)} ms per reply`
    );
  });
  notes.push(
    'the splitter rescans its buffered tail on every piece (segment ends, pause marks, visible length), so its cost per piece grows with the length of the sentence being built',
    `rows are per token piece; ops/s = pieces/s on one thread; ${ROUNDS} interleaved rounds (checksum ${sink > 0 ? 'ok' : 'none'})`,
  );
  return { title: 'Sentence splitter: streamed model text → speakable segments, µs per token', rows, notes };
}
