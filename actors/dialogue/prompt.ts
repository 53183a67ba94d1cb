/**
 * The system prompt: a template with `{{name}}` placeholders and `{{#name}}…{{/name}}` sections
 * (rendered only when `name` has a value, so a device without battery facts or a first session
 * without memory leaves no dangling "Battery: ." line).
 *
 * Rendering is one pass over the template: a value is inserted as-is and never scanned again, so a
 * memory summary the model wrote (or a role prompt) cannot smuggle in placeholders of its own.
 * The role's prompt is rendered first with the same values (a role may say "You are
 * {{assistant_name}}") and then goes into `{{role_prompt}}`.
 *
 * Output depends only on its inputs: the wall-clock time is passed in, so tests are stable.
 */

/** Facts about the device, as far as the session knows them (OTA check, hello, device status). */
export interface DeviceFacts {
  readonly board?: string | undefined;
  readonly firmware?: string | undefined;
  /** A name the person gave the device when binding it. */
  readonly label?: string | undefined;
  /** Percent, 0–100. */
  readonly battery?: number | undefined;
  readonly charging?: boolean | undefined;
  /** Speaker volume, percent. */
  readonly volume?: number | undefined;
}

export interface PromptContext {
  readonly assistantName: string;
  /** BCP 47 tag; null when the role follows whatever language the user speaks. */
  readonly language: string | null;
  /** IANA zone; undefined = the server's zone. */
  readonly timezone?: string | undefined;
  /** Wall-clock epoch ms (Date.now() in production, a constant in tests). */
  readonly now: number;
  readonly device?: DeviceFacts | undefined;
  readonly roleName: string;
  readonly rolePrompt: string;
  /** The per-device memory summary; empty when there is none yet. */
  readonly memory?: string | undefined;
}

/**
 * What the role's prompt is wrapped in. Roles write who the assistant is; this adds what only the
 * server knows (time, device, memory).
 */
export const DEFAULT_TEMPLATE = [
  '{{role_prompt}}',
  '',
  'Your name is {{assistant_name}}.{{#language}} Answer in {{language_name}}.{{/language}}',
  'Current local time: {{datetime}}.',
  '{{#device}}You are running on a device: {{device}}.{{/device}}',
  '{{#memory}}What you remember about this user from earlier conversations:',
  '{{memory}}{{/memory}}',
].join('\n');

export interface RenderResult {
  readonly text: string;
  /** Placeholder names the template used that no value exists for. */
  readonly unknown: readonly string[];
}

export interface RenderOptions {
  /** Leave unknown placeholders visible (tests, a config check); production output removes them. */
  readonly keepUnknown?: boolean;
}

const TOKEN = /\{\{\s*([#/]?)\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

/**
 * Fills `{{name}}` placeholders and `{{#name}}…{{/name}}` sections in one pass. A section whose
 * variable is absent or blank renders as nothing (an unknown name there is not reported: a section
 * is an explicit "if present").
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string | undefined>>, opts: RenderOptions = {}): RenderResult {
  const unknown = new Set<string>();
  const known = (name: string) => Object.hasOwn(vars, name) && vars[name] !== undefined;
  const present = (name: string) => known(name) && (vars[name] ?? '').trim() !== '';
  let out = '';
  let last = 0;
  // Depth of sections being skipped; inside one, placeholders and nested sections are dropped.
  const stack: { name: string; skip: boolean }[] = [];
  const skipping = () => stack.some((s) => s.skip);
  for (const m of template.matchAll(TOKEN)) {
    const at = m.index ?? 0;
    const [whole, kind = '', name = ''] = m;
    if (!skipping()) out += template.slice(last, at);
    last = at + whole.length;
    if (kind === '#') {
      stack.push({ name, skip: !present(name) });
    } else if (kind === '/') {
      // A stray close tag is left as text so the template author sees it.
      const i = stack.map((s) => s.name).lastIndexOf(name);
      if (i >= 0) stack.length = i;
      else if (!skipping()) out += whole;
    } else if (!skipping()) {
      if (known(name)) out += vars[name];
      else {
        unknown.add(name);
        if (opts.keepUnknown) out += whole;
      }
    }
  }
  if (!skipping()) out += template.slice(last);
  return { text: tidy(out), unknown: [...unknown] };
}

/** Collapses the blank lines that empty sections leave, and trailing spaces. */
function tidy(s: string): string {
  return s
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The values every template may use. */
export function promptVars(ctx: PromptContext): Record<string, string | undefined> {
  const tz = ctx.timezone;
  const when = formatLocalTime(ctx.now, tz);
  const device = describeDevice(ctx.device);
  const vars: Record<string, string | undefined> = {
    assistant_name: ctx.assistantName,
    language: ctx.language ?? '',
    language_name: ctx.language ? languageName(ctx.language) : "the user's language",
    datetime: when.datetime,
    date: when.date,
    time: when.time,
    weekday: when.weekday,
    timezone: when.zone,
    device,
    board: ctx.device?.board,
    firmware: ctx.device?.firmware,
    battery: ctx.device?.battery === undefined ? undefined : `${Math.round(ctx.device.battery)}%`,
    volume: ctx.device?.volume === undefined ? undefined : `${Math.round(ctx.device.volume)}%`,
    role: ctx.roleName,
    memory: ctx.memory?.trim() ?? '',
  };
  return vars;
}

/** The system prompt for one turn. Render it per turn: the time moves. */
export function renderSystemPrompt(ctx: PromptContext, template: string = DEFAULT_TEMPLATE, opts: RenderOptions = {}): RenderResult {
  const vars = promptVars(ctx);
  // The role prompt sees every value but itself (a role may place `{{memory}}` on its own).
  const role = renderTemplate(ctx.rolePrompt, vars, opts);
  const all = renderTemplate(template, { ...vars, role_prompt: role.text }, opts);
  return { text: all.text, unknown: [...new Set([...role.unknown, ...all.unknown])] };
}

export interface LocalTime {
  /** `2025-03-14 Friday 09:26 (Asia/Shanghai, GMT+08:00)` */
  readonly datetime: string;
  readonly date: string;
  readonly time: string;
  readonly weekday: string;
  readonly zone: string;
}

/** Formatters by zone: building one costs ~0.1 ms, and every turn's prompt needs one. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let fmt = formatters.get(key);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'long',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    // Zones come from config and device profiles: a handful, but bounded all the same.
    if (formatters.size >= 64) formatters.clear();
    formatters.set(key, fmt);
  }
  return fmt;
}

/** Numeric, locale-independent date and time in a zone, so models of any language read it alike. */
export function formatLocalTime(epochMs: number, timeZone?: string): LocalTime {
  const fmt = formatterFor(timeZone);
  const parts = new Map(fmt.formatToParts(new Date(epochMs)).map((p) => [p.type, p.value]));
  const p = (k: Intl.DateTimeFormatPartTypes) => parts.get(k) ?? '';
  const date = `${p('year')}-${p('month')}-${p('day')}`;
  const time = `${p('hour')}:${p('minute')}`;
  const name = timeZone ?? fmt.resolvedOptions().timeZone;
  const offset = p('timeZoneName') === 'GMT' ? 'GMT+00:00' : p('timeZoneName');
  const zone = `${name}, ${offset}`;
  return { datetime: `${date} ${p('weekday')} ${time} (${zone})`, date, time, weekday: p('weekday'), zone };
}

/** `zh-CN` → `Chinese (China)`; an unusable tag is shown as written. */
export function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** `board esp32-s3-box3, firmware 1.6.2, battery 80% (charging), volume 70%`; '' when nothing is known. */
export function describeDevice(d: DeviceFacts | undefined): string {
  if (!d) return '';
  const out: string[] = [];
  if (d.label) out.push(`named "${d.label}"`);
  if (d.board) out.push(`board ${d.board}`);
  if (d.firmware) out.push(`firmware ${d.firmware}`);
  if (d.battery !== undefined && Number.isFinite(d.battery)) out.push(`battery ${Math.round(d.battery)}%${d.charging ? ' (charging)' : ''}`);
  if (d.volume !== undefined && Number.isFinite(d.volume)) out.push(`volume ${Math.round(d.volume)}%`);
  return out.join(', ');
}
