/**
 * Codes of the device MCP client (protocol.md §8) and the legacy IoT bridge (§9). External MCP
 * servers may reuse them: the meanings (a tool failed, no answer in time, the channel is gone)
 * are the same whatever carries the JSON-RPC.
 */
import { defineErrors } from '../../runtime/errors.js';

export const MCP = defineErrors({
  // `initialize` answered with an error (or with something that is not a result).
  XZ_ERR_MCP_INIT_FAILED: { category: 'upstream', retryable: false, message: 'device MCP initialize failed' },
  // The first `tools/list` page answered with an error; later pages' errors just end the list.
  XZ_ERR_MCP_LIST_FAILED: { category: 'upstream', retryable: false, message: 'device MCP tools/list failed' },
  // The device reported the tool call as failed; the message is the device's own text.
  XZ_ERR_MCP_TOOL_FAILED: { category: 'upstream', retryable: false, message: 'device tool call failed' },
  // Not retryable: a device action (volume, reboot…) may have happened even though no reply came.
  XZ_ERR_MCP_TIMEOUT: { category: 'timeout', retryable: false, message: 'device MCP request timed out' },
  // The device's socket closed (or was never there) before the reply arrived.
  XZ_ERR_MCP_CLOSED: { category: 'unavailable', retryable: false, message: 'device channel closed' },
  // A reply arrived for the request but its result has the wrong shape.
  XZ_ERR_MCP_BAD_REPLY: { category: 'upstream', retryable: false, message: 'device MCP reply has an unexpected shape' },
  // A model asked for a tool this device does not have (or hid from it).
  XZ_ERR_MCP_UNKNOWN_TOOL: { category: 'invalid-request', retryable: false, message: 'no such device tool' },
  // Arguments that are not a JSON object, or an IoT call missing a parameter the device needs.
  XZ_ERR_MCP_BAD_ARGUMENTS: { category: 'invalid-request', retryable: false, message: 'invalid tool arguments' },

  // External MCP servers (actors/mcp/external/). A call reached a server that is not connected
  // right now (starting, or waiting to restart): it should be back soon, so retryable.
  XZ_ERR_MCP_SERVER_DOWN: { category: 'unavailable', retryable: true, message: 'external MCP server is not connected' },
  // One attempt to start, connect to, initialize or list an external server failed; it is retried.
  XZ_ERR_MCP_CONNECT_FAILED: { category: 'connectivity', retryable: true, message: 'external MCP server could not be reached' },
  // A stdio MCP server's process exited while it was serving; it is restarted.
  XZ_ERR_MCP_SERVER_EXITED: { category: 'upstream', retryable: true, message: 'external MCP server process exited' },
  // The server failed more often than its restart budget allows: nobody retries until the next boot.
  XZ_ERR_MCP_GAVE_UP: { category: 'unavailable', retryable: false, message: 'external MCP server was given up after repeated failures' },
});
