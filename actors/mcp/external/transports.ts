/**
 * One fresh SDK transport per connection attempt, from a server's config: stdio through our
 * spawner, streamable HTTP and (legacy) SSE through the SDK's own client transports with the
 * configured headers on every request.
 */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { XzError } from '../../../runtime/errors.js';
import type { SpawnClientFactory } from '../../../runtime/spawner.js';
import { MCP } from '../errors.js';
import type { McpServerConfig } from '../../../config/mcp-servers.js';
import { SpawnerStdioTransport } from './spawner-transport.js';

export function makeTransport(server: string, cfg: McpServerConfig, spawnClient: SpawnClientFactory | undefined): Transport {
  switch (cfg.transport) {
    case 'stdio': {
      const factory: SpawnClientFactory = spawnClient ?? (() => Promise.reject(new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, `${server}: stdio servers need the spawner, and none was given`)));
      return new SpawnerStdioTransport(factory, { server, command: cfg.command, args: cfg.args, env: cfg.env, cwd: cfg.cwd });
    }
    case 'http':
      return new StreamableHTTPClientTransport(new URL(cfg.url), {
        // The SDK's own retries of the notification stream stay on: a dropped stream with a live
        // server is theirs to mend; a dead server fails our ping and we reconnect from scratch.
        requestInit: { headers: { ...cfg.headers } },
      });
    case 'sse':
      // The headers reach both the event stream (the SDK adds requestInit headers there) and the POSTs.
      return new SSEClientTransport(new URL(cfg.url), { requestInit: { headers: { ...cfg.headers } } });
  }
}
