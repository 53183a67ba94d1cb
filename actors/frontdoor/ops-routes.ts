/**
 * Operations routes: liveness, readiness and a status document (sessions by state, event-loop
 * delay, worker pools, memory) for dashboards and load testers.
 */
import type { TemplatedApp } from '../../native/uws.js';
import { replyTo } from './http.js';

export interface OpsDeps {
  /** Ready = accepting devices and every worker pool is up. */
  ready(): { ready: boolean; why?: string };
  status(): Promise<Record<string, unknown>>;
  /** One entry per live session (asks each session actor). */
  sessions(): Promise<unknown[]>;
  /** Provider pools: breaker state, in flight, queued, last error, latency. */
  providers(): Promise<unknown>;
  /** External MCP servers: transport, state, tools, restarts, last error. */
  mcp(): unknown;
}

export function opsRoutes(app: TemplatedApp, deps: OpsDeps): void {
  app.get('/health', (res) => replyTo(res).json(200, { status: 'ok' }));
  app.get('/ready', (res) => {
    const r = deps.ready();
    replyTo(res).json(r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not-ready', why: r.why });
  });
  app.get('/status', (res) => {
    const reply = replyTo(res);
    deps.status().then(
      (st) => reply.json(200, st, { 'Cache-Control': 'no-store' }),
      (e) => reply.error(e),
    );
  });
  app.get('/status/providers', (res) => {
    const reply = replyTo(res);
    deps.providers().then(
      (st) => reply.json(200, st, { 'Cache-Control': 'no-store' }),
      (e) => reply.error(e),
    );
  });
  app.get('/status/mcp', (res) => replyTo(res).json(200, { servers: deps.mcp() }, { 'Cache-Control': 'no-store' }));
  app.get('/status/sessions', (res) => {
    const reply = replyTo(res);
    deps.sessions().then(
      (list) => reply.json(200, { sessions: list }, { 'Cache-Control': 'no-store' }),
      (e) => reply.error(e),
    );
  });
}
