/**
 * The language model vendor fakes in one import, for pool, fallback and full-turn tests:
 *
 *   import { startFakeOpenAI, startFakeOllama, startFakeCoze, startFakeDify } from '../doubles/llm-vendors.js';
 *
 * Each returns a FakeVendor (http-fake.ts): `url` for the provider's `base_url`, `script(...)`,
 * `requests`, `disconnects`, `attempts`/`streams` counters, `waitForDisconnect`, `reset`, `close`.
 * Every reply understands the shared fields (`text`, `usage`, `fault`, `chunk`, `eventGapMs`,
 * `headDelayMs`); see each file's header for its vendor's quirks.
 */
export { startFakeOpenAI, type FakeOpenAI, type OpenAIReply } from './fake-openai.js';
export { startFakeOllama, type FakeOllama, type OllamaReply } from './fake-ollama.js';
export { startFakeCoze, type FakeCoze, type CozeReply } from './fake-coze.js';
export { startFakeDify, type FakeDify, type DifyReply } from './fake-dify.js';
export type { BaseReply, Fault, FakeVendor, RecordedDisconnect, RecordedRequest, ScriptedCall } from './http-fake.js';
export type { ChunkPlan } from './chunker.js';
