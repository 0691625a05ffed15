import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeDocument, composeYaml, planNodes, TOPOLOGY, validateCompose } from '@ddia/cli';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const committed = fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url));

describe('docker-compose.yml', () => {
  it('is what the topology generates (run `pnpm compose` after changing the topology)', () => {
    expect(readFileSync(committed, 'utf8')).toBe(composeYaml());
  });

  it('is valid against the Compose Specification schema', () => {
    expect(validateCompose(parse(composeYaml()))).toEqual([]);
  });

  it('has one container per node of every service, peers by container name, and the landing page', () => {
    const doc = composeDocument() as { services: Record<string, { command: string[]; ports?: string[] }> };
    for (const def of TOPOLOGY) {
      for (const node of planNodes(def)) {
        const svc = doc.services[node.name];
        expect(svc, node.name).toBeDefined();
        expect(svc!.command).toContain(`packages/${def.pkg}/dist/main.js`);
        expect(svc!.ports).toEqual(
          [node.port, ...(def.extraPorts ?? []).map((p) => p + node.ordinal - 1)].map(
            (port) => `127.0.0.1:${port}:${port}`,
          ),
        );
        if (def.clustered)
          expect(svc!.command.join(' ')).toContain(`${node.id}=http://${node.name}:${node.port}`);
        // Spans go to the monitoring container, as `pnpm start` sends them to its monitoring node.
        const otlp = svc!.command.indexOf('--otlp');
        if (def.name === 'monitoring') expect(otlp, node.name).toBe(-1);
        else expect(svc!.command[otlp + 1], node.name).toBe('http://monitoring-n1:9090');
      }
    }
    expect(doc.services.lab?.command).toContain('landing');
    // A batch worker reaches its coordinator by container name.
    expect(doc.services['batch-worker-n1']?.command).toEqual(
      expect.arrayContaining(['worker', '--coordinator', 'http://batch-n1:7601']),
    );
  });

  it('catches a document that breaks the schema', () => {
    const broken = { services: { a: { image: 'x', ports: 'not-a-list', restart_policy_typo: 1 } } };
    expect(validateCompose(broken).length).toBeGreaterThan(0);
  });
});
