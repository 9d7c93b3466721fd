import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../runtime/isolated/free-port.ts';

const binary = '/usr/bin/prometheus';

/** One scrape target: a function process and the labels a PodMonitor's relabelings would give it. */
export interface ScrapeTarget {
  address: string;
  labels: Record<string, string>;
}

export interface RunningPrometheus {
  readonly url: string;
  /** The samples of an instant query; throws on a query Prometheus refuses. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  stop(): Promise<void>;
}

/** Debian's Prometheus on a free loopback port, scraping `targets` every `scrapeSeconds`. */
export async function startPrometheus(targets: readonly ScrapeTarget[], scrapeSeconds = 1): Promise<RunningPrometheus> {
  if (!existsSync(binary)) throw new Error(`the canary metric tests need Debian's Prometheus at ${binary}: apt-get install prometheus (bash .ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'knfn-prometheus-'));
  const config = {
    global: { scrape_interval: `${scrapeSeconds}s`, evaluation_interval: `${scrapeSeconds}s` },
    scrape_configs: [
      {
        job_name: 'knfn-functions',
        metrics_path: '/metrics',
        static_configs: targets.map((target) => ({ targets: [target.address], labels: target.labels })),
      },
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    binary,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false);
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prometheus did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`prometheus refused ${expr}: ${body.error ?? response.status}`);
      if (body.data.resultType !== 'vector') throw new Error(`expected a vector from ${expr}, got ${body.data.resultType}`);
      return body.data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
