import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientAddress, clientKey, isAddressOrRange, trustedProxies } from './client-address.ts';

describe('trustedProxies', () => {
  const trusted = trustedProxies(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '192.168.1.0/24']);

  it.each([
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['10.255.3.4', true],
    ['11.0.0.1', false],
    ['192.168.1.77', true],
    ['192.168.2.1', false],
    ['::1', true],
    ['::2', false],
    ['fd12:3456::1', true],
    ['FD00::abcd', true],
    ['fe80::1', false],
    // IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer, in both spellings.
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.1.2.3', true],
    ['::ffff:a01:203', true],
    ['::ffff:11.0.0.1', false],
    ['not an address', false],
    ['', false],
  ])('%s is trusted: %s', (address, expected) => {
    expect(trusted.has(address)).toBe(expected);
  });

  it('trusts nobody when empty', () => {
    expect(trustedProxies([]).has('127.0.0.1')).toBe(false);
  });

  it('refuses entries that are neither an address nor a range', () => {
    expect(() => trustedProxies(['10.0.0.0/33'])).toThrow('"10.0.0.0/33" is not an IP address or CIDR range');
    for (const entry of ['fd00::/129', 'localhost', '10.0.0.0/8/8', '10.0.0/8', '']) expect(isAddressOrRange(entry)).toBe(false);
    for (const entry of ['0.0.0.0/0', '::/0', '2001:db8::/32', '10.1.2.3/32']) expect(isAddressOrRange(entry)).toBe(true);
  });

  it("tells an address from anything else as node:net's isIP does", () => {
    const candidates = ['127.0.0.1', '::1', '::', '::ffff:10.0.0.1', 'FE80::1%eth0', '2001:db8:0:0:0:0:0:1', '1::2::3', '2001:db8::g',
      '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', ' 10.0.0.1', '10.0.0.1 ', '::1]', '[::1]', '1.2.3.4:80', '', 'localhost'];
    for (const candidate of candidates) expect([candidate, isAddressOrRange(candidate)]).toEqual([candidate, isIP(candidate) !== 0]);
  });
});

describe('clientAddress', () => {
  const trusted = trustedProxies(['127.0.0.2', 'fd00::/8']);

  it('is the connection address when it is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('127.0.0.1', '203.0.113.9', trusted)).toBe('127.0.0.1');
    expect(clientAddress('::ffff:198.51.100.4', '203.0.113.9', trusted)).toBe('::ffff:198.51.100.4');
  });

  it("is X-Forwarded-For's first address when the connection is a trusted proxy", () => {
    expect(clientAddress('127.0.0.2', '203.0.113.9, 10.0.0.5', trusted)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:127.0.0.2', ' 2001:db8::7 ', trusted)).toBe('2001:db8::7');
    expect(clientAddress('fd00::9', '[2001:db8::7]:4711', trusted)).toBe('2001:db8::7');
    expect(clientAddress('fd00::9', '203.0.113.9:5000', trusted)).toBe('203.0.113.9');
  });

  it("falls back to the proxy's own address when its X-Forwarded-For names no address", () => {
    expect(clientAddress('127.0.0.2', undefined, trusted)).toBe('127.0.0.2');
    expect(clientAddress('127.0.0.2', 'unknown, 203.0.113.9', trusted)).toBe('127.0.0.2');
    expect(clientAddress('127.0.0.2', '', trusted)).toBe('127.0.0.2');
  });

  it('is undefined without a connection', () => {
    expect(clientAddress(undefined, '203.0.113.9', trusted)).toBeUndefined();
  });
});

describe('clientKey', () => {
  it('keeps IPv4 as it is, mapped or not', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::FFFF:cb00:7109')).toBe('203.0.113.9');
  });

  it('counts an IPv6 client by its /64, however the address is written', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });
});
