// Pins the error registry: stable codes with category and retryable, one meaning per code,
// and errors that survive a trip across threads as plain objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { E, XzError, defineErrors, fromWire, hasCode, registeredErrors, toWire } from '../../runtime/errors.js';

const T = { timeout: 10_000 };

test('registered codes carry category and retryable', T, () => {
  const e = new XzError(E.XZ_ERR_WORKER_CRASHED);
  assert.equal(e.code, 'XZ_ERR_WORKER_CRASHED');
  assert.equal(e.category, 'unavailable');
  assert.equal(e.retryable, true);
  assert.equal(new XzError(E.XZ_ERR_ABORTED).retryable, false);
  assert.ok(registeredErrors().size >= 10);
});

test('a code cannot be registered twice with another meaning', T, () => {
  defineErrors({ XZ_ERR_TEST_ONCE: { category: 'upstream', retryable: true, message: 'x' } });
  // the same meaning again is harmless (a module loaded twice)
  defineErrors({ XZ_ERR_TEST_ONCE: { category: 'upstream', retryable: true, message: 'x' } });
  assert.throws(() => defineErrors({ XZ_ERR_TEST_ONCE: { category: 'auth', retryable: false, message: 'x' } }), /another meaning/);
});

test('unknown throwables become XZ_ERR_INTERNAL; unknown codes are not trusted', T, () => {
  assert.equal(toWire(new TypeError('boom')).code, 'XZ_ERR_INTERNAL');
  assert.equal(toWire('a string').message, 'a string');
  assert.equal(new XzError('XZ_ERR_NOT_A_CODE').code, 'XZ_ERR_INTERNAL');
  assert.equal(hasCode({ code: 'ECONNRESET' }), false);
  assert.equal(hasCode({ code: 'XZ_ERR_ABORTED' }, 'XZ_ERR_ABORTED'), true);
});

test('errors cross a thread boundary as plain objects and come back whole', T, async () => {
  const err = new XzError(E.XZ_ERR_REQUEST_TIMEOUT, 'no answer', {
    details: { actor: 'codec/1' },
    cause: new XzError(E.XZ_ERR_MAILBOX_FULL),
  });
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<unknown>((r) => port2.once('message', r));
  port1.postMessage(toWire(err));
  const wire = (await received) as ReturnType<typeof toWire>;
  port1.close();
  assert.equal(Object.getPrototypeOf(wire), Object.prototype);
  const back = fromWire(wire);
  assert.ok(back instanceof XzError);
  assert.equal(back.code, 'XZ_ERR_REQUEST_TIMEOUT');
  assert.equal(back.category, 'timeout');
  assert.equal(back.message, 'no answer');
  assert.deepEqual(back.details, { actor: 'codec/1' });
  assert.equal((back.cause as XzError).code, 'XZ_ERR_MAILBOX_FULL');
  assert.match(back.stack ?? '', /--- remote ---/);
});

test('a code registered only on the thread that raised it keeps its meaning across', T, () => {
  const back = fromWire({ code: 'XZ_ERR_WORKER_ONLY_THING', category: 'upstream', retryable: true, message: 'vendor said no' });
  assert.equal(back.code, 'XZ_ERR_WORKER_ONLY_THING');
  assert.equal(back.category, 'upstream');
  assert.equal(back.retryable, true);
  assert.equal(fromWire({ code: 'not a code', category: 'upstream', retryable: true, message: 'x' }).code, 'XZ_ERR_INTERNAL');
});
