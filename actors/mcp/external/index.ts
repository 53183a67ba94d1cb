/** External MCP servers (issue 7, part 2): what boot, sessions and the status route use. */
export { mcpServerConfigSchema, mcpServersConfigSchema } from '../../../config/mcp-servers.js';
export type { McpServerConfig, McpServersConfig, McpServerConfigInput, McpServersConfigInput, McpTransportKind } from '../../../config/mcp-servers.js';
export { ExternalMcp, mcpSource } from './manager.js';
export type { ExternalMcpOptions } from './manager.js';
export { allowList } from './names.js';
export type { AllowPredicate, NamedTool } from './names.js';
export { syncExternalTools } from './registry.js';
export type { ExternalToolResult } from './results.js';
export type { CallOptions, ServerSnapshot, ServerState } from './server.js';
