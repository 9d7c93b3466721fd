import { BlockList, SocketAddress, isIP } from 'node:net';

/**
 * The proxies (TRUSTED_PROXIES) whose `X-Forwarded-For` names the client. Node's BlockList matches
 * an IPv4 rule against IPv4-mapped IPv6 too (`::ffff:10.0.0.1`, as a dual-stack socket reports it).
 */
export interface TrustedProxies {
  readonly entries: readonly string[];
  has(address: string): boolean;
}

const cidrPattern = /^([^/]+)\/(\d{1,3})$/;

/** True for an IPv4 or IPv6 address, or one with a `/prefix` of a valid length for its family. */
export function isAddressOrRange(entry: string): boolean {
  return parseEntry(entry) !== undefined;
}

function parseEntry(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | undefined {
  const cidr = cidrPattern.exec(entry);
  const address = cidr?.[1] ?? entry;
  const family = configuredAddressFamily(address);
  if (family === undefined) return undefined;
  if (cidr === null) return { address, prefix: undefined, family };
  const prefix = Number(cidr[2]);
  return prefix <= (family === 'ipv4' ? 32 : 128) ? { address, prefix, family } : undefined;
}

/**
 * The family of an address read from the configuration, as `isIP` would tell it, but from the C++
 * parser behind SocketAddress: `isIP` compiles its very large IPv6 pattern on first use, about
 * 4 ms of every cold start (a Service trusts `::1`). Not for requests: a miss throws, about 7 µs.
 */
function configuredAddressFamily(address: string): 'ipv4' | 'ipv6' | undefined {
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  try {
    new SocketAddress({ address, family });
    return family;
  } catch {
    return undefined;
  }
}

/**
 * A matcher for addresses and CIDR ranges; throws naming the first entry that is neither (the
 * configuration has refused those already).
 *
 * @example
 * trustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']).has('::ffff:10.1.2.3') // true
 */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (parsed === undefined) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    if (parsed.prefix === undefined) list.addAddress(parsed.address, parsed.family);
    else list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return {
    entries: [...entries],
    has(address) {
      const version = isIP(address);
      return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * Who sent the request, as the limiter counts it: the connection's address, or the first address
 * of `X-Forwarded-For` when the connection comes from a trusted proxy (the gateway sets that
 * header to the address it saw, so a caller cannot choose it). Undefined when neither is an
 * address (no socket, as under `app.request()`).
 */
export function clientAddress(
  remoteAddress: string | undefined,
  forwardedFor: string | undefined,
  trusted: TrustedProxies,
): string | undefined {
  const remote = remoteAddress === undefined ? undefined : bareAddress(remoteAddress);
  if (remote === undefined || forwardedFor === undefined || !trusted.has(remote)) return remote;
  const first = forwardedFor.split(',', 1)[0] ?? '';
  // A trusted proxy that sends nothing usable: its own address, so the request is still counted.
  return bareAddress(first) ?? remote;
}

/**
 * The address without brackets, port or zone, or undefined when it is not an IP address:
 * `[2001:db8::1]:443` -> `2001:db8::1`, `203.0.113.9:5000` -> `203.0.113.9`.
 */
function bareAddress(text: string): string | undefined {
  let address = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1] ?? '';
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  address = address.replace(/%.*$/, '');
  return isIP(address) === 0 ? undefined : address;
}

/**
 * The limiter's key for a client: an IPv4 address as is (also when IPv4-mapped), an IPv6 address
 * by its /64, which is what one subscriber usually gets: counting each of its 2^64 addresses
 * alone would let one client walk around its limit.
 */
export function clientKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address);
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
