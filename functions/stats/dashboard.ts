import { createHash } from 'node:crypto';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { InFlightReport } from '../../runtime/redis/in-flight.ts';
import { latencyBoundsMs } from '../../runtime/request-stats.ts';
import { niceCeiling, renderLineChart } from './chart.ts';
import type { LineChart } from './chart.ts';
import { isCatchAllRoute, windowSeconds } from './query.ts';
import type { EndpointStats, StatsReport, StatsWindow } from './query.ts';
import type { FunctionSeries, MinutePoint } from './series.ts';
import { timeAgo } from './times.ts';
import type { Clock } from './times.ts';

type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface DashboardView {
  window: StatsWindow;
  function?: string | undefined;
  route?: string | undefined;
  /** Show the catch-all rows (`unmatched`, `/*`) too. */
  all: boolean;
  /** As asked for in the query, kept in the page's links; the clock already uses it. */
  tz?: string | undefined;
  now: number;
  clock: Clock;
  /** Requests being answered right now; absent: not shown. */
  inFlight?: InFlightReport | undefined;
}

export const refreshSeconds = 30;

const largestFiniteMs = latencyBoundsMs.at(-2) ?? 10_000;
const tickEveryMinutes: Record<StatsWindow, number> = { '15m': 5, '1h': 15, '24h': 240 };
const windowLabels: Record<StatsWindow, string> = { '15m': 'last 15 min', '1h': 'last hour', '24h': 'last 24 h' };
const colors = { rate: '#3b7dd8', serverErrors: '#d9534f', clientErrors: '#e6a23c', p95: '#8e44ad' };
const number = new Intl.NumberFormat('en', { maximumSignificantDigits: 3 });
const count = new Intl.NumberFormat('en');

const stylesheet = `
body { font: 14px system-ui, sans-serif; margin: 1.5rem 2rem; color: #222; }
header nav a { margin-right: 0.9rem; }
.current { font-weight: bold; text-decoration: none; color: #222; }
.note { color: #555; max-width: 60rem; }
section.function { margin: 1.2rem 0 2rem; }
section.function h2 { margin-bottom: 0.2rem; }
.charts { display: flex; flex-wrap: wrap; gap: 0.8rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
`;

/**
 * The page's own policy: no script at all, the one stylesheet by its hash, and nothing loaded
 * from anywhere (the charts are inline SVG; the icon is an empty data: URL so the browser does not
 * fetch /favicon.ico and report it as a violation).
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(stylesheet).digest('base64')}'`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The stats page: per function, requests/s, error rates and p95 per minute as SVG line charts,
 * then the per-route table. Rendered on the server, refreshed by a meta refresh, no script. Every
 * value goes through hono's `html` template, which escapes it, so a route like `/a<b>` is text.
 */
export function renderDashboard(report: StatsReport, series: FunctionSeries[], view: DashboardView): Markup {
  const endpoints = view.all ? report.endpoints : report.endpoints.filter((endpoint) => !isCatchAllRoute(endpoint.route));
  const hidden = report.endpoints.length - endpoints.length;
  const from = series[0]?.points[0]?.start ?? Date.parse(report.from);
  const { clock } = view;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${refreshSeconds}">
<link rel="icon" href="data:,">
<title>Endpoint statistics (${windowLabels[view.window]})</title>
<style>${raw(stylesheet)}</style>
</head>
<body>
<header>
<h1>Endpoint statistics</h1>
<nav>${Object.keys(windowSeconds).map((window) => windowLink(view, window as StatsWindow))}
<a href="${link(view, { all: !view.all })}" class="toggle">${
    view.all ? 'hide unmatched and catch-all rows' : `show all rows${hidden > 0 ? ` (${hidden} unmatched or catch-all hidden)` : ''}`
  }</a>
<a href="/api/stats?${query(view, {}, false)}">JSON</a>
<a href="/">Message board</a></nav>
<p class="note">${windowLabels[view.window]}: <time datetime="${new Date(from).toISOString()}">${clock.minute(from)}</time> to
<time datetime="${new Date(view.now).toISOString()}">${clock.minute(view.now)}</time>, times in ${clock.zoneLabel}
(<code>?tz=Area/City</code> for another zone). Updated at ${clock.second(view.now)}; the page reloads every ${refreshSeconds} s.</p>
${view.inFlight === undefined ? '' : inFlightNote(view.inFlight)}
</header>
${series.length === 0 && endpoints.length === 0
  ? html`<p>No requests in this window.</p>`
  : html`${series.map((each) => functionSection(each, view))}
<h2>Per route</h2>
<p class="note"><b>req/s</b> is the rate while the route was in use: its requests divided by the time of its
<b>active minutes</b> (the minutes with at least one request; the current minute counts as far as it has run), so
a route used in bursts shows its burst rate rather than a near-zero average over the whole window.
Latencies are histogram bucket upper bounds (${latencyBoundsMs.slice(0, -1).join(', ')} ms): a p95 of
≤ 250 ms means between 100 and 250 ms.</p>
${table(endpoints, view)}`}
</body>
</html>`;
}

/** One line: each function with requests in flight, and where the counts come from. */
function inFlightNote(report: InFlightReport): Markup {
  if (report.functions === null) {
    return html`<p class="note" id="in-flight" data-scope="unavailable">Requests in flight now: unavailable (Redis did not answer).</p>`;
  }
  const busy = Object.entries(report.functions)
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  const source =
    report.scope === 'all-instances'
      ? `across ${report.instances} ${report.instances === 1 ? 'instance' : 'instances'}`
      : 'this instance only (no REDIS_URL)';
  return html`<p class="note" id="in-flight" data-scope="${report.scope}">Requests in flight now, ${source}: ${
    busy.length === 0
      ? 'none'
      : busy.map(([name, count], index) => html`${index > 0 ? ', ' : ''}<span data-function="${name}">${name} ${count}</span>`)
  }.</p>`;
}

function functionSection(series: FunctionSeries, view: DashboardView): Markup {
  const active = series.points.filter((point) => point.requests > 0);
  const activeSeconds = active.reduce((sum, point) => sum + point.seconds, 0);
  const serverErrors = active.reduce((sum, point) => sum + point.serverErrors, 0);
  const clientErrors = active.reduce((sum, point) => sum + point.clientErrors, 0);
  const id = `fn-${series.function.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return html`<section class="function" id="${id}" data-function="${series.function}">
<h2>${series.function}</h2>
<p class="note">${count.format(series.requests)} requests; ${activeSeconds > 0 ? number.format(series.requests / activeSeconds) : '0'} req/s over
${active.length} active ${active.length === 1 ? 'minute' : 'minutes'}; 5xx ${percent(series.requests ? serverErrors / series.requests : 0)},
4xx ${percent(series.requests ? clientErrors / series.requests : 0)}; ${count.format(series.coldStarts)} cold ${series.coldStarts === 1 ? 'start' : 'starts'}
(processes that served their first request: Knative started an instance, or one was restarted).</p>
<div class="charts">
${charts(series, view, id).map(renderLineChart)}
</div>
</section>`;
}

function charts(series: FunctionSeries, view: DashboardView, id: string): LineChart[] {
  const { points } = series;
  const minutes = points.map((point) => point.start);
  const common = { minutes, tickEveryMinutes: tickEveryMinutes[view.window], clock: view.clock };
  const span = `per minute, ${view.clock.minute(minutes[0] ?? view.now)} to ${view.clock.minute(view.now)} ${view.clock.zoneLabel}`;

  const rates = points.map((point) => point.requests / point.seconds);
  const rateMax = niceCeiling(Math.max(0, ...rates));
  const serverRates = points.map((point) => (point.requests > 0 ? point.serverErrors / point.requests : null));
  const clientRates = points.map((point) => (point.requests > 0 ? point.clientErrors / point.requests : null));
  const errorMax = Math.min(1, niceCeiling(Math.max(0.01, ...serverRates.map(Number), ...clientRates.map(Number))));
  const p95 = points.map((point) => point.p95Ms);
  const activeMinutes = points.filter((point) => point.requests > 0).length;

  return [
    {
      ...common,
      id: `${id}-rate`,
      title: 'requests/s',
      description: `Requests per second of ${series.function} ${span}: ${peak(points, rates, view.clock, (value) => `${number.format(value)} req/s`)}; ${activeMinutes} of ${points.length} minutes had requests.`,
      series: [{ label: 'req/s', color: colors.rate, values: rates }],
      y: { scale: 'linear', max: rateMax },
      yTicks: [0, rateMax / 2, rateMax].map((value) => ({ value, label: number.format(value) })),
    },
    {
      ...common,
      id: `${id}-errors`,
      title: 'error rate',
      description: `Share of ${series.function}'s requests answered with a server error (5xx) and a client error (4xx) ${span}: 5xx ${peak(points, serverRates, view.clock, percent)}; 4xx ${peak(points, clientRates, view.clock, percent)}.`,
      series: [
        { label: '5xx', color: colors.serverErrors, values: serverRates },
        { label: '4xx', color: colors.clientErrors, values: clientRates },
      ],
      y: { scale: 'linear', max: errorMax },
      yTicks: [0, errorMax / 2, errorMax].map((value) => ({ value, label: percent(value) })),
    },
    {
      ...common,
      id: `${id}-p95`,
      title: 'p95 latency',
      description: `95th percentile latency (a histogram bucket's upper bound) of ${series.function} ${span}: ${peak(points, p95, view.clock, ms)}.`,
      series: [{ label: 'p95', color: colors.p95, values: p95 }],
      // Above the largest finite bound is drawn at the top, one step past 10 s.
      y: { scale: 'log', min: 1, max: largestFiniteMs * 2 },
      yTicks: [1, 10, 100, 1000, 10_000].map((value) => ({ value, label: value >= 1000 ? `${value / 1000} s` : `${value} ms` })),
    },
  ];
}

/** "highest 3.2 req/s at 14:05, latest 1.1 req/s" in words for the chart's description. */
function peak(points: MinutePoint[], values: readonly (number | null)[], clock: Clock, format: (value: number) => string): string {
  let best: { value: number; at: number } | undefined;
  let latest: number | undefined;
  values.forEach((value, index) => {
    if (value === null) return;
    const at = points[index]?.start ?? 0;
    if (!best || value > best.value) best = { value, at };
    latest = value;
  });
  if (!best || latest === undefined) return 'no requests';
  return `highest ${format(best.value)} at ${clock.minute(best.at)}, latest ${format(latest)}`;
}

function table(endpoints: EndpointStats[], view: DashboardView): Markup {
  if (endpoints.length === 0) return html`<p>No matched routes in this window.</p>`;
  return html`<table>
<thead><tr><th scope="col">function</th><th scope="col">method</th><th scope="col">route</th><th scope="col">requests</th><th scope="col">active min</th><th scope="col">req/s</th><th scope="col">4xx</th><th scope="col">5xx</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th><th scope="col">last seen</th></tr></thead>
<tbody>
${endpoints.map((endpoint) => {
  const lastSeen = Date.parse(endpoint.lastSeen);
  return html`<tr><td>${endpoint.function}</td><td>${endpoint.method}</td><td>${endpoint.route}</td><td>${count.format(endpoint.requests)}</td><td>${endpoint.activeMinutes}</td><td>${number.format(endpoint.requestsPerActiveSecond)}</td><td>${percent(endpoint.clientErrorRate)}</td><td>${percent(endpoint.serverErrorRate)}</td><td>${ms(endpoint.p50Ms)}</td><td>${ms(endpoint.p95Ms)}</td><td>${ms(endpoint.p99Ms)}</td><td><time datetime="${endpoint.lastSeen}" title="${view.clock.full(lastSeen)} ${view.clock.zoneLabel}">${timeAgo(lastSeen, view.now)}</time></td></tr>
`;
})}</tbody>
</table>`;
}

function windowLink(view: DashboardView, window: StatsWindow): Markup {
  return html`<a href="${link(view, { window })}"${window === view.window ? raw(' class="current" aria-current="page"') : ''}>${windowLabels[window]}</a>`;
}

function link(view: DashboardView, change: { window?: StatsWindow; all?: boolean }): string {
  return `?${query(view, change, true)}`;
}

function query(view: DashboardView, change: { window?: StatsWindow; all?: boolean }, withPageOptions: boolean): string {
  const params = new URLSearchParams({ window: change.window ?? view.window });
  if (view.function) params.set('function', view.function);
  if (view.route) params.set('route', view.route);
  if (withPageOptions && (change.all ?? view.all)) params.set('all', '1');
  if (withPageOptions && view.tz) params.set('tz', view.tz);
  return params.toString();
}

function percent(rate: number): string {
  return `${number.format(rate * 100)}%`;
}

function ms(value: number | null): string {
  if (value === null || value === Infinity) return `> ${largestFiniteMs} ms`;
  return `≤ ${value} ms`;
}
