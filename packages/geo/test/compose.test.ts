// docker-compose.geo.yml: generated from the WAN matrix, committed at the repo root, and parsed
// here (Docker itself is not run in tests; `docker-compose -f docker-compose.geo.yml config -q`
// also accepts it). Regions as groups of containers, each region's delay in the entrypoint's env.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runGeoCommand } from '../src/command.js';
import { fitRegionNetem, GEO_KV_BASE_PORT, GEO_REPL_BASE_PORT, geoComposeYaml } from '../src/compose.js';
import { rttMs, wanMatrix } from '../src/core/index.js';

const FILE = fileURLToPath(new URL('../../../docker-compose.geo.yml', import.meta.url));
const REGIONS = ['us', 'eu', 'ap'];

interface Service {
  image: string;
  build: { context: string; dockerfile: string };
  command: string[];
  environment: Record<string, string>;
  cap_add: string[];
  ports: string[];
  volumes: string[];
  labels: Record<string, string>;
}

/** `${VAR:-default}` -> default, as compose substitutes it when VAR is unset. */
const defaultOf = (value: string) => {
  const m = /^\$\{[A-Z0-9_]+:-([0-9.]+)\}$/.exec(value);
  if (!m) throw new Error(`not a \${VAR:-number}: ${value}`);
  return Number(m[1]);
};

function output() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (s: string) => out.push(s),
      err: (s: string) => err.push(s),
      stdout: process.stdout,
      stderr: { write: () => true } as unknown as NodeJS.WriteStream,
    },
  };
}

describe('docker-compose.geo.yml', () => {
  const text = readFileSync(FILE, 'utf8');
  const doc = parse(text) as { services: Record<string, Service>; volumes: Record<string, unknown> };

  it('is what the generator writes now (regenerate with `node packages/geo/dist/main.js compose`)', () => {
    expect(text).toBe(geoComposeYaml(wanMatrix(REGIONS)));
  });

  it('has one kv-store and one leaderless replication container per region, wired to their peers', () => {
    const names = Object.keys(doc.services).sort();
    expect(names).toEqual(REGIONS.flatMap((r) => [`kv-${r}`, `repl-${r}`]).sort());
    for (const [prefix, base, main] of [
      ['kv', GEO_KV_BASE_PORT, 'packages/kv-store/dist/main.js'],
      ['repl', GEO_REPL_BASE_PORT, 'packages/replication/dist/main.js'],
    ] as const) {
      const peers = REGIONS.map((r, i) => `${r}=http://${prefix}-${r}:${base + i}`).join(',');
      REGIONS.forEach((region, i) => {
        const s = doc.services[`${prefix}-${region}`]!;
        expect(s.image).toBe('ddia-lab:latest');
        expect(s.build).toEqual({ context: '.', dockerfile: 'docker/Dockerfile' });
        expect(s.command.slice(0, 2)).toEqual(['node', main]);
        const flag = (name: string) => s.command[s.command.indexOf(name) + 1];
        expect(flag('--id')).toBe(region);
        expect(flag('--port')).toBe(String(base + i));
        expect(flag('--peers')).toBe(peers);
        expect(flag('--data-dir')).toBe('/data');
        if (prefix === 'repl') {
          expect(flag('--mode')).toBe('leaderless');
          expect([flag('--n'), flag('--w'), flag('--r')]).toEqual(['3', '1', '1']);
        }
        expect(s.ports).toEqual([`127.0.0.1:${base + i}:${base + i}`]);
        expect(s.cap_add).toContain('NET_ADMIN');
        expect(s.labels['ddia.geo.region']).toBe(region);
        const volume = s.volumes[0]!.split(':')[0]!;
        expect(doc.volumes).toHaveProperty(volume);
      });
    }
    const ports = Object.values(doc.services).flatMap((s) => s.ports);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("gives each region's delay to the entrypoint (LATENCY_MS, JITTER_MS, LOSS_PCT), fitted to the round trips", () => {
    const m = wanMatrix(REGIONS);
    const fitted = new Map(fitRegionNetem(m).map((f) => [f.region, f]));
    for (const [name, s] of Object.entries(doc.services)) {
      const region = s.environment.GEO_REGION!;
      expect(name.endsWith(`-${region}`)).toBe(true);
      expect(s.environment.DDIA_HOST).toBe('0.0.0.0');
      const latency = defaultOf(s.environment.LATENCY_MS!);
      const jitter = defaultOf(s.environment.JITTER_MS!);
      const loss = defaultOf(s.environment.LOSS_PCT!);
      expect(latency).toBe(fitted.get(region)!.latencyMs);
      expect(jitter).toBeGreaterThanOrEqual(0);
      expect(jitter).toBeLessThan(latency);
      expect(loss).toBe(0);
      // The entrypoint accepts only digits and dots.
      for (const v of [latency, jitter, loss]) expect(String(v)).toMatch(/^[0-9.]+$/);
    }
    // Egress delays add up to every round trip (exact for three regions).
    for (const a of REGIONS)
      for (const b of REGIONS)
        if (a !== b)
          expect(fitted.get(a)!.latencyMs + fitted.get(b)!.latencyMs).toBeCloseTo(rttMs(m, a, b), 0);
  });

  it('fits more regions by least squares and carries a lossy link into its region', () => {
    const m = wanMatrix(['us', 'usw', 'eu', 'ap']);
    m.links.eu!.ap!.lossPct = 2;
    const fit = new Map(fitRegionNetem(m).map((f) => [f.region, f]));
    let worst = 0;
    for (const a of m.regions)
      for (const b of m.regions)
        if (a < b)
          worst = Math.max(worst, Math.abs(fit.get(a)!.latencyMs + fit.get(b)!.latencyMs - rttMs(m, a, b)));
    expect(worst).toBeLessThan(40); // four regions cannot be matched exactly by per-region delays
    expect(fit.get('eu')!.lossPct).toBe(2);
    expect(fit.get('us')!.lossPct).toBe(0);
  });

  it('`geo compose --check` passes on the committed file, fails on a stale one; bad regions exit 2', async () => {
    const ok = output();
    expect(await runGeoCommand(['compose', '--check'], ok.io)).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'geo-compose-'));
    try {
      const stale = join(dir, 'c.yml');
      writeFileSync(stale, 'services: {}\n');
      const bad = output();
      expect(await runGeoCommand(['compose', '--check', '--file', stale], bad.io)).toBe(1);
      expect(bad.err.join('\n')).toMatch(/stale/);
      expect(await runGeoCommand(['compose', '--file', stale, '--regions', 'us,eu'], output().io)).toBe(0);
      expect(parse(readFileSync(stale, 'utf8')).services).toHaveProperty('repl-eu');
      const usage = output();
      expect(await runGeoCommand(['compose', '--regions', 'us,mars'], usage.io)).toBe(2);
      expect(usage.err.join('\n')).toMatch(/mars/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
