import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrustedProxies, parseIp, TRUST_NONE, type ProxyMatcher } from '../../actors/frontdoor/trusted-proxies.js';
import { hex } from './helpers.js';

const T = { timeout: 10_000 };

function matcher(list: string[]): ProxyMatcher {
  const r = compileTrustedProxies(list);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  return r.matcher;
}

test('parseIp gives the 16-byte form; IPv4 is IPv4-mapped', T, () => {
  assert.equal(hex(parseIp('1.2.3.4')!), '00000000000000000000ffff01020304');
  assert.equal(hex(parseIp('::ffff:1.2.3.4')!), '00000000000000000000ffff01020304');
  assert.equal(hex(parseIp('::1')!), '00000000000000000000000000000001');
  assert.equal(hex(parseIp('[2001:db8::1]')!), '20010db8000000000000000000000001');
  assert.equal(hex(parseIp('fe80::1%eth0')!), 'fe800000000000000000000000000001');
  assert.equal(hex(parseIp('0000:0000:0000:0000:0000:ffff:0a00:0005')!), '00000000000000000000ffff0a000005');
  assert.equal(hex(parseIp('1:2:3:4:5:6:7:8')!), '00010002000300040005000600070008');
  for (const bad of ['', 'localhost', '1.2.3', '256.1.1.1', '1::2::3', '12345::', 'fe80::1/64']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('IPv4 CIDRs match at their boundaries, including non-byte-aligned prefixes', T, () => {
  const m = matcher(['10.0.0.0/8', '172.16.0.0/12', '192.168.1.7']);
  for (const yes of ['10.0.0.0', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.7', '::ffff:10.1.2.3']) {
    assert.equal(m.matches(yes), true, yes);
  }
  for (const no of ['11.0.0.0', '9.255.255.255', '172.32.0.0', '172.15.255.255', '192.168.1.8', '::1', 'garbage', '', undefined]) {
    assert.equal(m.matches(no), false, String(no));
  }
});

test('IPv6 CIDRs match, and a v6 /0 covers IPv4-mapped peers too', T, () => {
  const m = matcher(['fd00::/8', '2001:db8::/32', '::1', 'fe80::/10']);
  for (const yes of ['fdab::1', 'fd00::', '2001:db8:ffff::1', '::1', '[::1]', 'fe80::abcd%eth0', 'febf::1']) {
    assert.equal(m.matches(yes), true, yes);
  }
  for (const no of ['fe00::1', 'fec0::1', '2001:db9::1', '::2', '127.0.0.1']) assert.equal(m.matches(no), false, no);
  assert.equal(matcher(['::/0']).matches('8.8.8.8'), true);
  assert.equal(matcher(['0.0.0.0/0']).matches('8.8.8.8'), true);
  assert.equal(matcher(['0.0.0.0/0']).matches('2001:db8::1'), false);
});

test('an empty list trusts nobody; a bad entry refuses the whole list', T, () => {
  assert.equal(matcher([]).matches('127.0.0.1'), false);
  assert.equal(TRUST_NONE.matches('127.0.0.1'), false);
  for (const bad of [['10.0.0.0/33'], ['::1/129'], ['1.2.3.4/'], ['not-an-ip'], ['127.0.0.1', '10.0.0.0/x'], ['10.0.0.0/-1']]) {
    const r = compileTrustedProxies(bad);
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROXY_BAD_CIDR', bad.join(','));
  }
});
