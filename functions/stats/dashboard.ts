import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { latencyBoundsMs } from '../../runtime/request-stats.ts';
import type { EndpointStats, StatsReport } from './query.ts';
import { windowSeconds } from './query.ts';

type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

const largestFiniteMs = latencyBoundsMs.at(-2) ?? 10_000;
const quantiles = [
  { key: 'p50Ms', label: 'p50', color: '#4c9be8' },
  { key: 'p95Ms', label: 'p95', color: '#f0a030' },
  { key: 'p99Ms', label: 'p99', color: '#d9534f' },
] as const;

/**
 * The stats page: the JSON figures as a table and a latency bar chart, all inline (no CDN). Every
 * value goes through hono's `html` template, which escapes it, so a route like `/a<b>` is text.
 */
export function renderDashboard(report: StatsReport, filters: { function?: string | undefined; route?: string | undefined }): Markup {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Endpoint statistics (${report.window})</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; margin: 1rem 0; }
  th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #ddd; text-align: right; }
  th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
  nav a { margin-right: 0.8rem; }
  .current { font-weight: bold; }
  small { color: #666; }
</style>
</head>
<body>
<h1>Endpoint statistics</h1>
<nav>${Object.keys(windowSeconds).map((window) => windowLink(window, report.window, filters))}</nav>
<p><small>${report.from} to ${report.to}. Latencies are bucket upper bounds
(${latencyBoundsMs.slice(0, -1).join(', ')} ms): a p95 of 250 means between 100 and 250 ms;
&gt; ${largestFiniteMs} ms is shown as such.</small></p>
${report.endpoints.length === 0 ? html`<p>No requests in this window.</p>` : html`${table(report.endpoints)}${chart(report.endpoints)}`}
</body>
</html>`;
}

function windowLink(window: string, current: string, filters: { function?: string | undefined; route?: string | undefined }): Markup {
  const query = new URLSearchParams({ window });
  if (filters.function) query.set('function', filters.function);
  if (filters.route) query.set('route', filters.route);
  return html`<a href="?${query.toString()}" class="${window === current ? 'current' : ''}">${window}</a>`;
}

function table(endpoints: EndpointStats[]): Markup {
  return html`<table>
<thead><tr><th>function</th><th>method</th><th>route</th><th>requests</th><th>req/s</th><th>4xx</th><th>5xx</th><th>p50</th><th>p95</th><th>p99</th><th>last seen</th></tr></thead>
<tbody>
${endpoints.map(
  (endpoint) => html`<tr><td>${endpoint.function}</td><td>${endpoint.method}</td><td>${endpoint.route}</td><td>${endpoint.requests}</td><td>${endpoint.requestsPerSecond.toFixed(3)}</td><td>${percent(endpoint.clientErrorRate)}</td><td>${percent(endpoint.serverErrorRate)}</td><td>${ms(endpoint.p50Ms)}</td><td>${ms(endpoint.p95Ms)}</td><td>${ms(endpoint.p99Ms)}</td><td>${endpoint.lastSeen}</td></tr>
`,
)}</tbody>
</table>`;
}

/** Horizontal bars of p50/p95/p99 per endpoint, on a log scale so 2 ms and 2 s both show. */
function chart(endpoints: EndpointStats[]): Markup {
  const labelWidth = 320;
  const barWidth = 480;
  const barHeight = 12;
  const rowHeight = barHeight * quantiles.length + 14;
  const height = endpoints.length * rowHeight + 30;
  const scale = (value: number | null) => {
    const clamped = Math.min(value ?? largestFiniteMs * 2, largestFiniteMs * 2);
    return Math.max(2, (Math.log10(clamped + 1) / Math.log10(largestFiniteMs * 2 + 1)) * barWidth);
  };
  return html`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="latency per endpoint" width="${labelWidth + barWidth + 110}" height="${height}" font-size="11">
${quantiles.map((q, index) => html`<rect x="${labelWidth + index * 70}" y="4" width="10" height="10" fill="${q.color}"/><text x="${labelWidth + index * 70 + 14}" y="13">${q.label}</text>`)}
${endpoints.map((endpoint, row) => {
  const top = 30 + row * rowHeight;
  return html`<g>
<text x="0" y="${top + barHeight * 2}">${endpoint.method} ${endpoint.route} (${endpoint.function})</text>
${quantiles.map((q, index) => {
  const value = endpoint[q.key];
  const width = scale(value);
  return html`<rect x="${labelWidth}" y="${top + index * barHeight}" width="${width.toFixed(1)}" height="${barHeight - 2}" fill="${q.color}"><title>${q.label} ${ms(value)}</title></rect><text x="${(labelWidth + width + 4).toFixed(1)}" y="${top + index * barHeight + barHeight - 3}">${ms(value)}</text>`;
})}
</g>`;
})}
</svg>`;
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function ms(value: number | null): string {
  return value === null ? `> ${largestFiniteMs} ms` : `≤ ${value} ms`;
}
