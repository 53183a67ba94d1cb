// Session policy on a simulated clock: exit phrases with punctuation variants, the wake greeting
// and the wake-word tail window, idle farewell then hard close, the activation prompt at most once
// a minute per device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { dialogueSchema } from '../../actors/dialogue/config.js';
import { ActivationPrompter, IdlePolicy, IntentMatcher, WakeGate, activationText, normalizePhrase, type IdleAction } from '../../actors/dialogue/intents.js';

const T = { timeout: 20_000 };
const defaults = dialogueSchema.parse({});

test('exit phrases: punctuation, spaces, width and case do not matter; the whole utterance must match', T, () => {
  const m = new IntentMatcher(defaults.exit_phrases);
  for (const s of ['退出', '退出。', '退出！', ' 关闭 ', '关闭…', 'Goodbye!', 'GOODBYE.', 'bye bye', 'Bye-bye!', 'byebye', '再见～', '拜拜!!', '"Bye."']) {
    assert.equal(m.classify(s), 'exit', s);
  }
  for (const s of ['退出登录怎么弄', 'say goodbye to my mom', '关闭灯', 'hello']) assert.equal(m.classify(s), 'chat', s);
  for (const s of ['', '  ', '。。', '?!']) assert.equal(m.classify(s), 'empty', JSON.stringify(s));
  assert.equal(normalizePhrase('Ｂｙｅ　Ｂｙｅ！'), 'byebye', 'full-width forms fold (NFKC)');
  assert.equal(new IntentMatcher(['stop it']).classify('Stop, it!'), 'exit');
});

test('wake word in listen detect: greeting, and VAD speech ignored for the tail window', T, () => {
  const clock = new SimClock();
  const gate = new WakeGate({ wakeWords: defaults.wake_words, greeting: defaults.greeting, tailMs: defaults.wake_tail_ms, clock });
  assert.equal(gate.ignoreSpeech(), false, 'nothing to ignore before a wake-up');
  assert.deepEqual(gate.detect('你好，小智！'), { kind: 'wake', greeting: '我在，请说。' });
  const wokeAt = clock.now();
  assert.equal(gate.ignoreSpeech(), true);
  clock.stall(1999);
  assert.equal(gate.ignoreSpeech(), true);
  clock.stall(1);
  assert.equal(gate.ignoreSpeech(), false, 'the window is 2000 ms');
  assert.equal(gate.ignoreSpeech(wokeAt + 500), true, 'a speech start stamped inside the window');
  assert.equal(gate.ignoreSpeech(wokeAt - 1), false);

  // Case and spaces: "Hello, XiaoZhi" is the configured "hello xiaozhi".
  assert.equal(gate.detect('Hello, XiaoZhi').kind, 'wake');
  // Any other text is a typed user turn; blank is nothing.
  assert.deepEqual(gate.detect('  今天天气怎么样？ '), { kind: 'text', text: '今天天气怎么样？' });
  assert.deepEqual(gate.detect(' 。'), { kind: 'empty' });

  // Greeting disabled: the session answers with stt + tts stop only.
  const quiet = new WakeGate({ wakeWords: ['小智'], greeting: null, tailMs: 0, clock });
  assert.deepEqual(quiet.detect('小智'), { kind: 'wake', greeting: null });
  assert.equal(quiet.ignoreSpeech(), false, 'a zero tail ignores nothing');
});

function idle(clock: SimClock, farewellS = 120, closeS = 60) {
  const actions: [IdleAction, number][] = [];
  const start = clock.now();
  const p = new IdlePolicy({ clock, farewellMs: farewellS * 1000, closeMs: closeS * 1000, onAction: (a) => actions.push([a, (clock.now() - start) / 1000]) });
  return { p, actions };
}

test('idle: no speech for idle_farewell_s ⇒ farewell, then close idle_close_s later', T, async () => {
  const clock = new SimClock();
  const { p, actions } = idle(clock);
  assert.equal(p.state, 'stopped');
  p.start();
  assert.equal(p.state, 'active');
  await clock.advance(119_000);
  assert.deepEqual(actions, []);
  await clock.advance(1_000);
  assert.deepEqual(actions, [['farewell', 120]]);
  assert.equal(p.state, 'farewell');
  await clock.advance(59_999);
  assert.equal(actions.length, 1);
  await clock.advance(1);
  assert.deepEqual(actions, [['farewell', 120], ['close', 180]]);
  assert.equal(p.state, 'closed');
  // Closed is final: activity and more time change nothing.
  p.activity('speech');
  await clock.advance(500_000);
  assert.equal(actions.length, 2);
  assert.equal(clock.pending, 0);
});

test('idle: speech and sent audio reset the countdown; one timer however much activity', T, async () => {
  const clock = new SimClock();
  const { p, actions } = idle(clock);
  p.start();
  await clock.advance(100_000);
  p.activity('speech');
  await clock.advance(100_000);
  assert.deepEqual(actions, [], 'speech at 100 s moved the farewell to 220 s');
  // A long reply: audio every 60 ms for 90 s keeps the session alive without speech.
  for (let i = 0; i < 1500; i++) {
    p.activity('audio');
    await clock.advance(60);
  }
  assert.deepEqual(actions, []);
  assert.ok(clock.pending <= 1, `timers pending: ${clock.pending}`);
  await clock.advance(120_000);
  assert.equal(actions.length, 1);
  assert.equal(actions[0]![0], 'farewell');
  // The last audio went out at 200 + 1499 × 0.06 = 289.94 s.
  assert.ok(Math.abs(actions[0]![1] - 409.94) < 1e-6, `farewell at ${actions[0]![1]} s`);
});

test('idle: the farewell audio pushes the hard close back; speech after the farewell returns to active', T, async () => {
  const clock = new SimClock();
  const { p, actions } = idle(clock, 10, 5);
  p.start();
  await clock.advance(10_000);
  assert.equal(p.state, 'farewell');
  // The goodbye plays for 4 s: the close deadline moves with it.
  for (let i = 0; i < 4; i++) {
    await clock.advance(1000);
    p.activity('audio');
  }
  await clock.advance(4_999);
  assert.equal(p.state, 'farewell');
  await clock.advance(1);
  assert.deepEqual(actions.map((a) => a[0]), ['farewell', 'close']);

  // Second policy: the user answers the goodbye.
  const c2 = new SimClock();
  const two = idle(c2, 10, 5);
  two.p.start();
  await c2.advance(10_000);
  await c2.advance(2_000);
  two.p.activity('speech');
  assert.equal(two.p.state, 'active');
  await c2.advance(9_999);
  assert.deepEqual(two.actions.map((a) => a[0]), ['farewell']);
  await c2.advance(1);
  assert.deepEqual(two.actions.map((a) => a[0]), ['farewell', 'farewell'], 'a new farewell 10 s after the speech');
});

test('idle: disabled with 0; stop cancels; activity before start is ignored', T, async () => {
  const clock = new SimClock();
  const off = idle(clock, 0, 60);
  off.p.start();
  assert.equal(off.p.state, 'stopped');
  await clock.advance(1_000_000);
  assert.deepEqual(off.actions, []);
  const on = idle(clock, 10, 5);
  on.p.activity('speech');
  on.p.start();
  await clock.advance(5_000);
  on.p.stop();
  assert.equal(on.p.state, 'stopped');
  await clock.advance(100_000);
  assert.deepEqual(on.actions, []);
  assert.equal(clock.pending, 0);
});

test('activation prompt: the code read digit by digit, at most once a minute per device', T, async () => {
  const clock = new SimClock();
  const pr = new ActivationPrompter({ clock, template: defaults.activation_prompt });
  const first = pr.due('dev-1', '123456');
  assert.ok(first?.includes('1 2 3 4 5 6'), first);
  assert.equal(pr.due('dev-1', '123456'), undefined);
  assert.ok(pr.due('dev-2', '654321'), 'another device is not held back');
  clock.stall(59_999);
  assert.equal(pr.due('dev-1', '123456'), undefined);
  clock.stall(1);
  assert.ok(pr.due('dev-1', '123456'), 'a minute later it is said again');
  assert.equal(pr.due('dev-1', '123456'), undefined);
  assert.equal(activationText('Code {{code_raw}}: {{code}}.', '042917'), 'Code 042917: 0 4 2 9 1 7.');
  // Bounded memory: the oldest device is forgotten first.
  const small = new ActivationPrompter({ clock, template: '{{code}}', maxDevices: 2 });
  small.due('a', '1');
  small.due('b', '2');
  small.due('c', '3');
  assert.ok(small.due('a', '1'), 'a was evicted, so it is due again');
  assert.equal(small.due('c', '3'), undefined);
});
