// The controller's state machine as @ddia/raft runs it: commands are JSON ConfigCommands, the
// state is one ClusterConfig, a snapshot is its JSON. Every node of the controller group
// applies the same log, so every node's `config` is its cached assignment with its epoch, and
// listeners hear of each new epoch as it is applied.
import { EventEmitter } from 'node:events';
import {
  applyConfigCommand,
  type ClusterConfig,
  type ConfigCommand,
  type ConfigResult,
} from '../core/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigCommand(command: ConfigCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export class ConfigMachine extends EventEmitter<{ config: [ClusterConfig] }> {
  config: ClusterConfig | null = null;

  apply(bytes: Uint8Array): ConfigResult {
    let command: ConfigCommand;
    try {
      command = JSON.parse(decoder.decode(bytes)) as ConfigCommand;
    } catch {
      // Only this service writes the log; a command it cannot read is refused, not fatal.
      return { ok: false, refusal: 'unknown_partition', detail: 'unreadable command' };
    }
    const { config, result } = applyConfigCommand(this.config, command);
    if (result.ok && config) {
      this.config = config;
      this.emit('config', config);
    }
    return result;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.config));
  }

  restore(data: Uint8Array): void {
    this.config = JSON.parse(decoder.decode(data)) as ClusterConfig | null;
    if (this.config) this.emit('config', this.config);
  }

  /** Resolves once this node has applied `epoch` (or rejects after `timeoutMs`). */
  waitEpoch(epoch: number, timeoutMs: number): Promise<ClusterConfig> {
    const current = this.config;
    if (current && current.epoch >= epoch) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('config', listener);
        reject(new Error(`epoch ${epoch} not applied within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (config: ClusterConfig) => {
        if (config.epoch < epoch) return;
        clearTimeout(timer);
        this.off('config', listener);
        resolve(config);
      };
      this.on('config', listener);
    });
  }
}
