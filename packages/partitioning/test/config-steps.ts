// Steps over the controller's state machine for the pure tests (no nodes, no I/O): apply
// commands expecting each to be accepted, and finish pending moves as the mover would.
import { expect } from 'vitest';
import {
  applyConfigCommand,
  type ClusterConfig,
  type ConfigCommand,
  pendingMoves,
} from '../src/core/index.js';

/** The controller's configuration. (The test files name it so: a test file's text that names
 *  clusters is taken by the runner for one that starts servers, and runs alone.) */
export type Config = ClusterConfig;

/** A node as `bootstrap` and `join` take it. */
export const N = (id: string) => ({ id, url: `http://${id}` });

/** Applies `commands` in order; throws on the first refusal. */
export function run(config: Config | null, ...commands: ConfigCommand[]): Config {
  for (const command of commands) {
    const out = applyConfigCommand(config, command);
    if (!out.result.ok) throw new Error(`${command.op}: ${out.result.detail}`);
    config = out.config;
  }
  return config as Config;
}

/** Completes every pending move, as the service's mover does (freeze, then finish). */
export function settle(config: Config): Config {
  for (const p of pendingMoves(config)) {
    config = run(
      config,
      { op: 'freeze', partition: p.id, to: p.target },
      { op: 'finish', partition: p.id, to: p.target },
    );
  }
  return config;
}

/** The refusal `command` meets, checking that it left `config` as it was (undefined when
 *  accepted). */
export function refusal(config: Config, command: ConfigCommand): string | undefined {
  const out = applyConfigCommand(config, command);
  expect(out.config).toBe(config);
  return out.result.ok ? undefined : out.result.refusal;
}
