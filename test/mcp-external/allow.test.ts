// Names and per-role allow-lists: how external tools reach a session's ToolRegistry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowList, syncExternalTools } from '../../actors/mcp/external/index.js';
import { nameTools } from '../../actors/mcp/external/names.js';
import { toolAllowed } from '../../actors/dialogue/roles.js';
import { ToolRegistry, serverTools } from '../../actors/tools/registry.js';
import { startStreamableHttp } from '../fixtures/mcp/http-servers.js';
import { rig, waitFor } from './helpers.js';

const schema = { type: 'object', properties: {} };

test('names: <server>__<tool>, vendor-safe, at most 64, unique within a server', () => {
  const named = nameTools('wx', [
    { name: 'get.forecast', inputSchema: schema, description: 'd' },
    { name: 'get_forecast', inputSchema: schema },
    { name: 'get.forecast', inputSchema: schema }, // listed twice: the first wins
    { name: 'x'.repeat(80), inputSchema: schema, title: 'Long' },
    { name: `${'x'.repeat(80)}y`, inputSchema: schema },
    { name: '天气', inputSchema: { properties: null } },
  ]);
  assert.deepEqual(
    named.map((t) => t.llmName),
    ['wx__get_forecast', 'wx__get_forecast_2', `wx__${'x'.repeat(60)}`, `wx__${'x'.repeat(58)}_2`, 'wx____'],
  );
  assert.deepEqual(
    named.map((t) => t.name),
    ['get.forecast', 'get_forecast', 'x'.repeat(80), `${'x'.repeat(80)}y`, '天气'],
  );
  for (const t of named) assert.match(t.llmName, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.equal(named[0]!.definition.description, 'd');
  assert.equal(named[1]!.definition.description, 'get_forecast'); // no description: the name
  assert.equal(named[2]!.definition.description, 'Long'); // or the title
  assert.deepEqual(named[4]!.definition.parameters, { type: 'object', properties: {} });
});

test('allow-list rule (the roles\' rule): mcp:*, mcp:<server>, <server>__<tool>, globs; empty allows all', () => {
  const a = { server: 'weather', llmName: 'weather__get_forecast' };
  const b = { server: 'search', llmName: 'search__query' };
  const allowed = (list: string[]) => [a, b].filter(allowList(list)).map((t) => t.llmName);
  assert.deepEqual(allowed([]), ['weather__get_forecast', 'search__query']);
  assert.deepEqual(allowed(['get_current_time', 'self_*', 'device']), []);
  assert.deepEqual(allowed(['mcp:*']), ['weather__get_forecast', 'search__query']);
  assert.deepEqual(allowed(['mcp:weather']), ['weather__get_forecast']);
  assert.deepEqual(allowed(['search__query']), ['search__query']);
  assert.deepEqual(allowed(['weather__get_*']), ['weather__get_forecast']);
  assert.deepEqual(allowed(['mcp:search', 'weather__get_forecast']), ['weather__get_forecast', 'search__query']);
  const list = ['mcp:weather'];
  assert.equal(allowList(list), allowList(list)); // compiled once per list
});

test('sessions see the tools their role allows, kept current as servers change', { timeout: 60_000 }, async () => {
  const http = await startStreamableHttp();
  const r = await rig({
    weather: { transport: 'http', url: http.url },
    search: { transport: 'http', url: http.url },
  });
  try {
    await r.mcp.start({ waitMs: 10_000 });
    const reg = new ToolRegistry();
    for (const t of serverTools()) reg.add(t);
    const unsync = syncExternalTools(reg, r.mcp);
    assert.equal(reg.size, 1 + r.mcp.tools().length);
    assert.equal(reg.definitions((t) => t.source === 'mcp:weather').length, r.mcp.tools().filter((t) => t.server === 'weather').length);
    // What the model is offered under a role: the filter the conversation applies on every turn.
    const offered = (tools: string[]) => reg.definitions((t) => toolAllowed({ tools }, t)).map((d) => d.name).sort();
    assert.equal(offered([]).length, reg.size);
    assert.deepEqual(offered(['get_current_time']), ['get_current_time']);
    const weather = offered(['mcp:weather']);
    assert.ok(weather.length >= 8 && weather.every((n) => n.startsWith('weather__')), String(weather));
    assert.deepEqual(offered(['search__echo', 'weather__add']), ['search__echo', 'weather__add']);
    assert.deepEqual(offered(['mcp:*']).length, r.mcp.tools().length);

    const ctx = { sessionId: 's', deviceId: 'd', signal: new AbortController().signal };
    assert.deepEqual(await reg.call('search__echo', '{"text":"via registry"}', ctx), { text: 'echo: via registry', isError: false });
    assert.deepEqual(await reg.call('weather__add', '{"a":1,"b":2}', ctx), { text: '3', isError: false });

    // A new tool on `weather` reaches the registry, and the roles that allow it.
    await r.mcp.call('weather__grow', {});
    await waitFor('weather__extra in the registry', () => reg.definitions().some((d) => d.name === 'weather__extra'));
    assert.ok(offered(['mcp:weather']).includes('weather__extra'));
    assert.ok(!offered(['search__echo', 'weather__add']).includes('weather__extra'));

    // A pre-filtered sync keeps the rest out of the registry entirely.
    const narrow = new ToolRegistry();
    const off = syncExternalTools(narrow, r.mcp, ['mcp:search']);
    assert.ok(narrow.definitions().length > 0 && narrow.definitions().every((d) => d.name.startsWith('search__')));
    off();
    assert.equal(narrow.size, 0);

    // A name another source already holds (a device tool, say) stays theirs.
    const taken = new ToolRegistry();
    taken.add({ source: 'device', definition: { name: 'search__echo', description: 'device echo', parameters: schema }, run: async () => ({ text: 'device', isError: false }) });
    const off2 = syncExternalTools(taken, r.mcp);
    assert.equal(taken.definitions().find((d) => d.name === 'search__echo')?.description, 'device echo');
    off2();
    assert.equal(taken.size, 1);

    unsync();
    assert.equal(reg.size, 1);
  } finally {
    await r.close();
    await http.stop();
  }
});
