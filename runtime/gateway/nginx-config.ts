import { isIP } from 'node:net';
import { checkOptionalParameter, splitRoutingPath } from 'hono/utils/url';
import { errorBody } from '../errors.ts';
import { isAddressOrRange } from '../rate-limit/client-address.ts';
import type { GatewayRoute } from './public-routes.ts';

/** Where one function answers: `address` is `name:port` or `ip:port`, `host` the Host header it is sent. */
export interface GatewayUpstream {
  address: string;
  host: string;
}

export interface NginxGatewaySettings {
  listen: { address?: string; port: number };
  /** Optional second listener answering only GET /healthz with 200 {"status":"ok"}: the gateway pod's own probes. */
  probePort?: number;
  /** In match order; first match wins when patterns overlap (as Hono's router). */
  routes: readonly GatewayRoute[];
  /** By function name; every route's function must have one. */
  upstreams: Readonly<Record<string, GatewayUpstream>>;
  /**
   * DNS server for upstream names (e.g. kube-dns.kube-system.svc.cluster.local); omit when every
   * address is an IP literal. nginx's resolver knows no search domains: names must be complete.
   */
  resolver?: { address: string; validSeconds: number };
  limits: {
    maxBodyBytes: number;
    connectTimeoutSeconds: number;
    readTimeoutSeconds: number;
    sendTimeoutSeconds: number;
    clientBodyTimeoutSeconds: number;
  };
  /** Writable places: the container has a read-only root with /tmp writable; locally a temp dir. `tempDir` must exist. */
  files: { pid: string; tempDir: string };
  workerProcesses: number | 'auto';
  accessLog: 'stdout' | 'off';
  /**
   * Addresses or CIDR ranges of the proxies in front (the Ingress controller's pods) whose
   * X-Forwarded-For names the client. The gateway sends the functions one address, the client's,
   * as X-Forwarded-For: the connection's own, or, from these, the last address in their header
   * that is not one of them (nginx's realip). Unset: the connection's own.
   */
  realIpFrom?: readonly string[];
}

/** One directive of the rendered file; `block` makes it `name args { ... }`. */
interface Directive {
  name: string;
  args: readonly string[];
  block?: readonly Directive[];
}

const directive = (name: string, ...args: string[]): Directive => ({ name, args });
const block = (name: string, args: readonly string[], body: readonly Directive[]): Directive => ({ name, args, block: body });

/**
 * The gateway's complete nginx.conf. Not `daemon off;` (the image passes it with -g, and a
 * duplicate is an error) and no `user` (the master is not root in the container).
 *
 * @example
 * renderNginxConfig({ listen: { port: 8080 }, routes: [{ path: '/pingpong', function: 'pingpong' }],
 *   upstreams: { pingpong: { address: '127.0.0.1:9001', host: 'pingpong' } }, ... })
 */
export function renderNginxConfig(settings: NginxGatewaySettings): string {
  const { limits, files } = settings;
  const functions = routedFunctions(settings.routes, settings.upstreams, settings.resolver !== undefined);
  const locations = routeLocations(settings.routes, functions);
  const config = [
    directive('pid', quote(files.pid)),
    directive('worker_processes', String(positive('workerProcesses', settings.workerProcesses))),
    directive('error_log', 'stderr', 'warn'),
    block('events', [], [directive('worker_connections', '1024')]),
    block('http', [], [
      directive('server_tokens', 'off'),
      // No extension-based types: a 404 for /x.html is JSON like any other.
      block('types', [], []),
      directive('default_type', 'application/json'),
      // Hono does not merge slashes; nginx would route //pingpong to a function whose router 404s it.
      directive('merge_slashes', 'off'),
      // $knfn_function is only set where a route matched; elsewhere it is "" without a warning.
      directive('uninitialized_variable_warn', 'off'),
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => directive(`${kind}_temp_path`, quote(`${files.tempDir}/${kind}`))),
      directive('client_max_body_size', String(positive('maxBodyBytes', limits.maxBodyBytes))),
      directive('client_body_timeout', seconds('clientBodyTimeoutSeconds', limits.clientBodyTimeoutSeconds)),
      ...resolverDirectives(settings),
      ...realIpDirectives(settings.realIpFrom),
      ...variableMaps,
      ...accessLogDirectives(settings.accessLog),
      ...[...functions].map(([name, upstream]) => upstreamBlock(name, upstream)),
      block('server', [], [
        directive('listen', listenAddress(settings.listen.address, settings.listen.port), 'default_server'),
        ...proxyDirectives(limits),
        ...nginxErrors(limits.maxBodyBytes).flatMap(errorPage),
        // Named, unlike the others: its message echoes $uri, which a redirect to a URI would replace.
        directive('error_page', '404', '@knfn_not_found'),
        block('location', ['@knfn_not_found'], jsonResponse(404, notFoundBody)),
        ...locations,
        block('location', ['/'], [directive('return', '404')]),
      ]),
      ...(settings.probePort === undefined ? [] : [probeServer(settings.listen.address, settings.probePort)]),
    ]),
  ];
  return `${serialize(config, '')}\n`;
}

function serialize(directives: readonly Directive[], indent: string): string {
  return directives
    .map(({ name, args, block: body }) => {
      const head = `${indent}${[name, ...args].join(' ')}`;
      if (body === undefined) return `${head};`;
      if (body.length === 0) return `${head} {}`;
      return `${head} {\n${serialize(body, `${indent}  `)}\n${indent}}`;
    })
    .join('\n');
}

/** A double-quoted nginx string: only `\` and `"` need escaping (`\\` and `\"` are read back as one character). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** For texts nginx expands variables in: a stray `$` would silently become an (empty) variable. */
function literal(text: string): string {
  if (text.includes('$')) throw new Error(`nginx would read "$" in ${text} as a variable`);
  return quote(text);
}

function positive(name: string, value: number | 'auto'): number | 'auto' {
  if (value !== 'auto' && !(Number.isInteger(value) && value > 0)) throw new Error(`${name} must be a positive integer, not ${value}`);
  return value;
}

function seconds(name: string, value: number): string {
  return `${positive(name, value)}s`;
}

function listenAddress(address: string | undefined, port: number): string {
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`listen port ${port} is not a TCP port`);
  if (address === undefined) return String(port);
  if (isIP(address) === 6) return `[${address}]:${port}`;
  if (!/^[A-Za-z0-9.-]+$/.test(address)) throw new Error(`listen address ${address} is neither an IP literal nor a host name`);
  return `${address}:${port}`;
}

// ---- Variables -------------------------------------------------------------------------------

/** `$` here is an nginx variable; `\z` (not `$`) ends a PCRE match, as `$` also matches before a final newline. */
const variableMaps: Directive[] = [
  // The same rule as runtime/response-headers.ts, so the function keeps the id the gateway logged.
  block('map', ['$http_x_request_id', '$knfn_request_id'], [
    directive('default', '$request_id'),
    directive(quote(String.raw`~^[\w=-]{1,255}\z`), '$http_x_request_id'),
  ]),
  // The ingress in front terminates TLS and says so; only a direct request gets our own scheme.
  block('map', ['$http_x_forwarded_proto', '$knfn_forwarded_proto'], [directive('default', '$http_x_forwarded_proto'), directive('""', '$scheme')]),
  // The 404 echoes the path only when it cannot break out of a JSON string ($request_method is
  // [A-Z_-] by nginx's own parser).
  block('map', ['$uri', '$knfn_not_found_message'], [
    directive('default', literal('no route for this path')),
    directive(quote(String.raw`~^[A-Za-z0-9/._~-]{1,256}\z`), quote('no route for $request_method $uri')),
  ]),
  // As the client sent it: $uri is the error page's own URI after an error_page redirect.
  block('map', ['$request_uri', '$knfn_request_path'], [directive(quote('~^(?<path>[^?]*)'), '$path')]),
  block('map', ['$status', '$knfn_log_level'], [directive('default', 'info'), directive('~^5', 'error')]),
];

function resolverDirectives({ resolver, limits }: NginxGatewaySettings): Directive[] {
  if (resolver === undefined) return [];
  return [
    directive('resolver', quote(resolver.address), `valid=${seconds('resolver.validSeconds', resolver.validSeconds)}`),
    // A name that takes longer to resolve than a connect may take is as unavailable.
    directive('resolver_timeout', seconds('connectTimeoutSeconds', limits.connectTimeoutSeconds)),
  ];
}

/**
 * With `real_ip_recursive on`, nginx walks X-Forwarded-For from the right past every trusted
 * address: the first one left is what the outermost trusted proxy saw, which no caller can forge.
 */
function realIpDirectives(trusted: readonly string[] | undefined): Directive[] {
  if (trusted === undefined || trusted.length === 0) return [];
  const wrong = trusted.find((entry) => !isAddressOrRange(entry));
  if (wrong !== undefined) throw new Error(`realIpFrom entry "${wrong}" is not an IP address or CIDR range`);
  return [
    ...trusted.map((entry) => directive('set_real_ip_from', entry)),
    directive('real_ip_header', 'X-Forwarded-For'),
    directive('real_ip_recursive', 'on'),
  ];
}

/** One JSON object per line, shaped like runtime/logger.ts's lines (time, level, msg, fields). */
function accessLogDirectives(accessLog: NginxGatewaySettings['accessLog']): Directive[] {
  if (accessLog === 'off') return [directive('access_log', 'off')];
  const fields: [string, string][] = [
    ['time', '"$time_iso8601"'],
    ['level', '"$knfn_log_level"'],
    ['msg', '"gateway request"'],
    ['requestId', '"$knfn_request_id"'],
    ['method', '"$request_method"'],
    ['path', '"$knfn_request_path"'],
    ['status', '$status'],
    ['seconds', '$request_time'],
    ['function', '"$knfn_function"'],
    ['upstreamStatus', '"$upstream_status"'],
    ['bytes', '$bytes_sent'],
  ];
  const format = `{${fields.map(([name, value]) => `"${name}":${value}`).join(',')}}`;
  return [directive('log_format', 'knfn_json', 'escape=json', `'${format}'`), directive('access_log', '/dev/stdout', 'knfn_json')];
}

// ---- Proxying --------------------------------------------------------------------------------

function proxyDirectives(limits: NginxGatewaySettings['limits']): Directive[] {
  return [
    // HTTP/1.1 without nginx's default "Connection: close": what lets a connection go back to
    // its upstream's keep-alive pool.
    directive('proxy_http_version', '1.1'),
    directive('proxy_set_header', 'Connection', '""'),
    directive('proxy_set_header', 'Host', '$knfn_upstream_host'),
    // Set, not appended to: whatever the caller wrote there would reach the functions as the
    // client's address, and a function trusts the gateway's first X-Forwarded-For address
    // (TRUSTED_PROXIES) for its per-client write limit.
    directive('proxy_set_header', 'X-Forwarded-For', '$remote_addr'),
    directive('proxy_set_header', 'X-Forwarded-Proto', '$knfn_forwarded_proto'),
    directive('proxy_set_header', 'X-Forwarded-Host', '$host'),
    directive('proxy_set_header', 'X-Request-Id', '$knfn_request_id'),
    directive('proxy_connect_timeout', seconds('connectTimeoutSeconds', limits.connectTimeoutSeconds)),
    directive('proxy_read_timeout', seconds('readTimeoutSeconds', limits.readTimeoutSeconds)),
    directive('proxy_send_timeout', seconds('sendTimeoutSeconds', limits.sendTimeoutSeconds)),
    // Responses flow to the client as the function writes them (streams, server-sent events);
    // nothing is spooled to the small writable /tmp. A slow client holds its function longer.
    directive('proxy_buffering', 'off'),
    directive('proxy_request_buffering', 'off'),
    // A function's Location and its own 4xx/5xx reach the client as the function wrote them.
    directive('proxy_redirect', 'off'),
    directive('proxy_intercept_errors', 'off'),
  ];
}

/** An upstream whose address was checked; `named` when it is a DNS name rather than an IP literal. */
interface CheckedUpstream extends GatewayUpstream {
  named: boolean;
}

function validUpstream(name: string, upstream: GatewayUpstream | undefined, hasResolver: boolean): CheckedUpstream {
  if (upstream === undefined) throw new Error(`no upstream for function "${name}": add it to upstreams`);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`function name "${name}" cannot name an nginx upstream: use [A-Za-z0-9_-]`);
  const match = /^(?<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/.exec(upstream.address);
  if (match?.groups === undefined) throw new Error(`upstream address "${upstream.address}" of "${name}" is not name:port or ip:port`);
  const host = match.groups['host']?.replace(/^\[|\]$/g, '') ?? '';
  const named = isIP(host) === 0;
  if (named && !hasResolver) {
    throw new Error(`upstream address "${upstream.address}" of "${name}" is a DNS name: set resolver, or use an IP literal`);
  }
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(upstream.host)) throw new Error(`upstream host "${upstream.host}" of "${name}" is not a host name`);
  return { address: upstream.address, host: upstream.host, named };
}

/** Every function some route reaches, in first-route order, each with its checked upstream. */
function routedFunctions(routes: readonly GatewayRoute[], upstreams: NginxGatewaySettings['upstreams'], hasResolver: boolean): Map<string, CheckedUpstream> {
  const functions = new Map<string, CheckedUpstream>();
  for (const { function: name } of routes) {
    if (!functions.has(name)) functions.set(name, validUpstream(name, upstreams[name], hasResolver));
  }
  return functions;
}

const upstreamName = (fn: string) => `knfn_${fn}`;

/**
 * Idle connections each worker keeps per function. Enough for every connection of a busy client
 * pool to find one (wrk's 64 in the bench); a burst beyond it opens new ones and closes the excess.
 */
const keepaliveConnections = 64;
/**
 * Shorter than every upstream's own idle limit, so nginx, not the upstream, closes an idle
 * connection: Node's http.Server (the local activator) drops an idle connection after 5 s; in the
 * cluster nginx talks to Knative's Envoy-based ingress (queue-proxy is behind it), which keeps one
 * far longer (Envoy's default: an hour).
 * Closing it the other way round races with a request nginx is just sending on it; and as request
 * bodies are streamed (proxy_request_buffering off), nginx never re-sends a request it began to
 * send, so the loser of that race would be a 502 rather than a duplicate.
 */
const keepaliveIdleSeconds = 4;

/**
 * One upstream{} per function, for its pool of idle connections. A DNS name is resolved by nginx
 * itself, in the background (`resolve`: nginx >= 1.27.3, needs `zone` and the http-level
 * resolver), so nginx starts before a function exists and follows its address as it changes. An
 * IP literal (the local runner's activators) needs neither, which also keeps older nginx working.
 * max_fails=0: one failed connection must not take the function's only address out of service
 * for fail_timeout; whether a function can answer is Knative's business, not the gateway's.
 */
function upstreamBlock(name: string, { address, named }: CheckedUpstream): Directive {
  return block('upstream', [upstreamName(name)], [
    directive('zone', upstreamName(name), '64k'),
    directive('server', address, ...(named ? ['resolve'] : []), 'max_fails=0'),
    directive('keepalive', String(keepaliveConnections)),
    directive('keepalive_timeout', `${keepaliveIdleSeconds}s`),
  ]);
}

/**
 * One location per route in match order. Static paths before the first dynamic route are exact
 * (`=`), which nginx tries first; everything after is a regex location, which nginx tries in file
 * order: so the first declared match wins, as in Hono. Later duplicates are unreachable in both.
 */
function routeLocations(routes: readonly GatewayRoute[], functions: ReadonlyMap<string, GatewayUpstream>): Directive[] {
  const seen = new Set<string>();
  let dynamicSeen = false;
  const locations: Directive[] = [];
  for (const route of routes) {
    const upstream = functions.get(route.function);
    if (upstream === undefined) throw new Error(`no upstream for function "${route.function}"`);
    for (const { path, regex } of translatePattern(route.path)) {
      if (seen.has(path)) continue;
      seen.add(path);
      dynamicSeen ||= regex !== undefined;
      const match = dynamicSeen ? ['~', quote(regex ?? `^${escapeRegex(path)}\\z`)] : ['=', quote(path)];
      locations.push(
        block('location', match, [
          directive('set', '$knfn_function', literal(route.function)),
          directive('set', '$knfn_upstream_host', quote(upstream.host)),
          // No URI part: the client's URI goes up unchanged.
          directive('proxy_pass', `http://${upstreamName(route.function)}`),
        ]),
      );
    }
  }
  return locations;
}

// ---- Hono patterns as nginx matches ----------------------------------------------------------

const staticLabel = /^[A-Za-z0-9._~-]*$/;
const paramLabel = /^:([^{}]+)(?:\{(.+)\})?$/;

/**
 * What Hono's router matches for one pattern, as the paths it expands to (optional parameters
 * become several, via Hono's own expansion) each either static or a PCRE matched against nginx's
 * normalised URI. Throws for what it cannot reproduce exactly.
 */
export function translatePattern(pattern: string): { path: string; regex?: string }[] {
  if (!pattern.startsWith('/')) throw new Error(`route ${pattern} must start with "/"`);
  return (checkOptionalParameter(pattern) ?? [pattern]).map((path) => {
    const labels = splitRoutingPath(path);
    let regex = '';
    let dynamic = false;
    for (const [index, label] of labels.entries()) {
      const param = paramLabel.exec(label);
      if (label === '*' && index === labels.length - 1) {
        // Hono's tail wildcard: the prefix itself, or it followed by "/" and anything.
        regex += String.raw`(?:/[\s\S]*)?`;
        dynamic = true;
      } else if (param !== null) {
        regex += `/${param[2] === undefined ? '[^/]+' : `(?:${portableRegex(pattern, param[2])})`}`;
        dynamic = true;
      } else if (staticLabel.test(label) && label !== '.' && label !== '..') {
        regex += `/${escapeRegex(label)}`;
      } else {
        throw new Error(`route ${pattern}: cannot translate "${label}" for nginx (static segments may use [A-Za-z0-9._~-]; "*" only as the last segment)`);
      }
    }
    return dynamic ? { path, regex: `^${regex}\\z` } : { path };
  });
}

/** Static labels are [A-Za-z0-9._~-] (checked above), of which only `.` means something in a regex. */
function escapeRegex(text: string): string {
  return text.replace(/[.]/g, '\\$&');
}

/**
 * A parameter's regex, if JavaScript (Hono) and PCRE (nginx) read it the same way: classes,
 * groups, (?: (?= (?! (no `<`, so no lookbehind or named groups), quantifiers, \d \w \s and
 * escaped punctuation. A top-level `|` is refused because Hono's two routers anchor it
 * differently (RegExpRouter groups it, TrieRouter does not).
 */
function portableRegex(pattern: string, source: string): string {
  const refuse = (why: string): never => {
    throw new Error(`route ${pattern}: the regex {${source}} ${why}`);
  };
  try {
    new RegExp(source);
  } catch {
    refuse('is not a valid regular expression');
  }
  if (!/^[\w\-.+*?|()[\]{},^\\/:=!]+$/.test(source)) refuse('uses characters outside [A-Za-z0-9_-.+*?|()[]{},^\\/:=!]');
  if (/\\[^dDwWsS.\-+*?|()[\]{}^\\/]/.test(source)) refuse('uses an escape other than \\d \\w \\s or escaped punctuation');
  if (/(?<![[\\])\^/.test(source)) refuse('uses ^ outside a negated class');
  if (/\[\^?\]/.test(source)) refuse('uses an empty class, which PCRE reads differently');
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') i++;
    else if (inClass) inClass = char !== ']';
    else if (char === '[') inClass = true;
    else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === '|' && depth === 0) refuse('has a top-level |: wrap the alternatives in (?:...)');
  }
  return source;
}

// ---- Responses from nginx itself -------------------------------------------------------------

/** `$knfn_not_found_message` is built by a map from safe characters only, so the JSON stays valid. */
const notFoundBody = quote(JSON.stringify(errorBody('not_found', 'MESSAGE')).replace('MESSAGE', '${knfn_not_found_message}'));

/** `body` is an nginx string already: variables in it are expanded. */
function jsonResponse(status: number, body: string, extraHeaders: [string, string][] = []): Directive[] {
  return [
    ...extraHeaders.map(([name, value]) => directive('add_header', name, value, 'always')),
    directive('add_header', 'X-Request-Id', '$knfn_request_id', 'always'),
    directive('return', String(status), body),
  ];
}

interface NginxError {
  /** What nginx decides; `answer` is what the client sees when that differs (494 is nginx's own). */
  status: number;
  answer?: number;
  code: string;
  message: string;
  retryAfter?: boolean;
}

/**
 * nginx's own errors in the runtime's one error shape: each one the tests provoke, plus 500 and
 * 503 which this configuration has no way to cause yet. Beyond error_page: a request header or
 * body that stalls past its timeout, where nginx closes the connection without any response (it
 * only logs 408); verified on 1.22 with request buffering on and off.
 */
function nginxErrors(maxBodyBytes: number): NginxError[] {
  return [
    { status: 400, code: 'bad_request', message: 'the request is malformed' },
    { status: 405, code: 'method_not_allowed', message: 'the method is not allowed' },
    { status: 413, code: 'payload_too_large', message: `request body exceeds ${maxBodyBytes} bytes` },
    { status: 414, code: 'request_too_large', message: 'the request URI is too long' },
    { status: 494, answer: 431, code: 'request_too_large', message: 'the request headers are too large' },
    { status: 500, code: 'internal_error', message: 'the gateway failed' },
    { status: 501, code: 'not_implemented', message: 'the request uses an unsupported transfer encoding' },
    { status: 502, code: 'function_unavailable', message: 'the function is unavailable; retry shortly', retryAfter: true },
    { status: 503, code: 'function_unavailable', message: 'the function is unavailable; retry shortly', retryAfter: true },
    { status: 504, code: 'function_timeout', message: 'the function did not answer in time' },
    { status: 505, code: 'http_version_not_supported', message: 'the HTTP version is not supported' },
  ];
}

/**
 * A URI, not a named location: a request whose request line nginx could not parse has no URI,
 * and redirecting it to a named location fails with a 500 HTML page. `internal`, so a client
 * asking for the URI itself gets the 404.
 */
function errorPage({ status, answer, code, message, retryAfter }: NginxError): Directive[] {
  const uri = `/_knfn/error/${status}`;
  const headers: [string, string][] = retryAfter === true ? [['Retry-After', '1']] : [];
  return [
    directive('error_page', String(status), ...(answer === undefined ? [] : [`=${answer}`]), uri),
    block('location', ['=', uri], [directive('internal'), ...jsonResponse(answer ?? status, literal(JSON.stringify(errorBody(code, message))), headers)]),
  ];
}

function probeServer(address: string | undefined, port: number): Directive {
  return block('server', [], [
    directive('listen', listenAddress(address, port)),
    // The kubelet asks every few seconds; its requests would drown the log.
    directive('access_log', 'off'),
    block('location', ['=', '/healthz'], [
      block('if', ['($request_method', '!~', '^(GET|HEAD)$)'], jsonResponse(405, literal(JSON.stringify(errorBody('method_not_allowed', 'only GET /healthz'))))),
      directive('return', '200', literal(JSON.stringify({ status: 'ok' }))),
    ]),
    block('location', ['/'], jsonResponse(404, notFoundBody)),
  ]);
}
