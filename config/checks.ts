/**
 * Rules that span fields or sections. They read the document defensively (it may be half broken)
 * so that a bad port and a pipeline naming an unknown provider are reported in the same run.
 */
import { STAGES } from './schema.js';

export interface RawIssue {
  path: (string | number)[];
  message: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
const has = (o: Obj | undefined, k: string): boolean => o !== undefined && Object.hasOwn(o, k);
const toNum = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};
const names = (o: Obj | undefined): string => {
  const keys = o ? Object.keys(o) : [];
  return keys.length ? keys.join(', ') : 'none';
};

export function crossCheck(doc: unknown): RawIssue[] {
  const issues: RawIssue[] = [];
  const root = obj(doc);
  if (!root) return issues;
  checkPipeline(root, issues);
  checkRolesAndDevices(root, issues);
  checkTiming(root, issues);
  return issues;
}

function checkPipeline(root: Obj, issues: RawIssue[]): void {
  const pipeline = obj(root.pipeline);
  const providers = obj(root.providers);
  if (!pipeline) return;
  for (const stage of STAGES) {
    const chain = pipeline[stage];
    if (!Array.isArray(chain)) continue;
    const defined = obj(providers?.[stage]);
    const seen = new Set<string>();
    chain.forEach((name, i) => {
      if (typeof name !== 'string') return;
      if (seen.has(name)) issues.push({ path: ['pipeline', stage, i], message: `"${name}" is listed twice` });
      seen.add(name);
      if (!has(defined, name)) {
        issues.push({
          path: ['pipeline', stage, i],
          message: `unknown ${stage} provider "${name}" (defined under providers.${stage}: ${names(defined)})`,
        });
      }
    });
  }
}

function checkRolesAndDevices(root: Obj, issues: RawIssue[]): void {
  const roles = obj(root.roles);
  if (roles && !has(roles, 'default')) issues.push({ path: ['roles'], message: 'a role named "default" is required' });
  const devices = obj(root.devices);
  if (!devices) return;
  const llms = obj(obj(root.providers)?.llm);
  const claimedBy = new Map<string, string>();
  for (const [key, value] of Object.entries(devices)) {
    const d = obj(value);
    if (!d) continue;
    if (typeof d.role === 'string' && roles && !has(roles, d.role)) {
      issues.push({ path: ['devices', key, 'role'], message: `unknown role "${d.role}" (defined: ${names(roles)})` });
    }
    if (typeof d.llm === 'string' && !has(llms, d.llm)) {
      issues.push({ path: ['devices', key, 'llm'], message: `unknown llm provider "${d.llm}" (defined: ${names(llms)})` });
    }
    if (!Array.isArray(d.match)) continue;
    d.match.forEach((id, i) => {
      if (typeof id !== 'string') return;
      const other = claimedBy.get(id);
      // Two groups claiming one device would make its settings depend on key order.
      if (other !== undefined && other !== key) {
        issues.push({ path: ['devices', key, 'match', i], message: `device "${id}" is also matched by group "${other}"` });
      }
      claimedBy.set(id, key);
    });
  }
}

function checkTiming(root: Obj, issues: RawIssue[]): void {
  const audio = obj(root.audio);
  const lead = toNum(audio?.lead_frames);
  const frame = toNum(audio?.frame_ms);
  // A lead past a second makes barge-in audibly late: that much audio is already queued.
  if (lead !== undefined && frame !== undefined && lead * frame > 1000) {
    issues.push({
      path: ['audio', 'lead_frames'],
      message: `lead_frames × frame_ms must be ≤ 1000 ms (is ${lead} × ${frame} = ${lead * frame} ms)`,
    });
  }
  const server = obj(root.server);
  const idle = toNum(server?.idle_timeout_s);
  const hello = toNum(server?.hello_timeout_ms);
  if (idle !== undefined && idle > 0 && hello !== undefined && hello >= idle * 1000) {
    issues.push({
      path: ['server', 'hello_timeout_ms'],
      message: `must be shorter than server.idle_timeout_s (${hello} ms ≥ ${idle} s)`,
    });
  }
}
