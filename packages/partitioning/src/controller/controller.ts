// The controller: a Raft group of every data node (ZooKeeper's role in DDIA ch. 6 "Request
// Routing"), holding the configuration in a replicated state machine. Its leader bootstraps the
// first configuration, admits and retires members of the group, and runs the mover. Any node
// proposes configuration changes (Raft forwards proposals to the leader); adding a member to the
// Raft group is leader-only, so POST /cluster/nodes is forwarded there.
import { DdiaError, type HttpClient, ProblemError } from '@ddia/common';
import type { RaftNode } from '@ddia/raft';
import type { FastifyRequest } from 'fastify';
import type { ClusterConfig, ConfigCommand, ConfigResult, Scheme } from '../core/index.js';
import { pendingMoves } from '../core/index.js';
import { PartErrors } from '../errors.js';
import type { ConfigMachine } from './config-machine.js';
import { encodeConfigCommand } from './config-machine.js';
import type { Mover } from './mover.js';

/** How often the leader looks for work (bootstrap, moves, members to retire). */
export const CONTROLLER_TICK_MS = 100;
/** A joining node must catch up with the controller log within this. */
export const JOIN_TIMEOUT_MS = 30_000;
export const PROPOSE_TIMEOUT_MS = 5_000;
const LEADER_WAIT_MS = 5_000;

export interface BootstrapSettings {
  scheme: Scheme;
  partitions: number;
  vnodes: number;
  replicas: number;
}

export class Controller {
  private readonly joining = new Set<string>();
  private retiring = false;
  private bootstrapping = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly raft: () => RaftNode<unknown>,
    private readonly machine: ConfigMachine,
    readonly mover: Mover,
    private readonly client: HttpClient,
    private readonly settings: BootstrapSettings,
    private readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), CONTROLLER_TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async propose(command: ConfigCommand): Promise<ConfigResult> {
    const deadlineAt = performance.now() + PROPOSE_TIMEOUT_MS;
    for (;;) {
      try {
        const outcome = await this.raft().propose(encodeConfigCommand(command), {
          timeoutMs: Math.max(50, deadlineAt - performance.now()),
        });
        return outcome.result as ConfigResult;
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || performance.now() > deadlineAt) {
          throw new DdiaError(
            PartErrors.noController,
            `the controller did not commit the change: ${(error as Error).message}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private tick(): void {
    const raft = this.raft();
    if (!raft.isLeader) return;
    const config = this.machine.config;
    if (!config) {
      void this.bootstrap();
      return;
    }
    this.mover.tick();
    void this.retireMembers(config);
  }

  private async bootstrap(): Promise<void> {
    if (this.bootstrapping) return;
    this.bootstrapping = true;
    try {
      const members = this.raft()
        .status()
        .members.filter((m) => m.voter && m.url)
        .map((m) => ({ id: m.id, url: m.url as string }));
      const result = await this.propose({ op: 'bootstrap', ...this.settings, nodes: members });
      if (result.ok)
        this.log.info({ epoch: result.epoch, members: members.map((m) => m.id) }, 'cluster bootstrapped');
    } catch (error) {
      this.log.warn({ err: error }, 'bootstrap failed; will retry');
    } finally {
      this.bootstrapping = false;
    }
  }

  /** Removes from the Raft group the nodes the configuration has let go (one at a time). */
  private async retireMembers(config: ClusterConfig): Promise<void> {
    if (this.retiring) return;
    const known = new Set(config.nodes.map((n) => n.id));
    const gone = this.raft()
      .status()
      .members.find((m) => !known.has(m.id) && !this.joining.has(m.id));
    if (!gone) return;
    this.retiring = true;
    try {
      await this.raft().removeMember(gone.id, { timeoutMs: PROPOSE_TIMEOUT_MS });
      this.log.info({ node: gone.id }, 'retired from the controller group');
    } catch (error) {
      this.log.warn({ err: error, node: gone.id }, 'retiring a member failed; will retry');
    } finally {
      this.retiring = false;
    }
  }

  async join(id: string, url: string, request: FastifyRequest): Promise<object> {
    const raft = this.raft();
    if (!raft.isLeader) return this.forwardToLeader('POST', '/cluster/nodes', { id, url }, request);
    const config = this.machine.config;
    if (!config) throw new DdiaError(PartErrors.notReady, 'the cluster has not bootstrapped yet');
    if (config.nodes.some((n) => n.id === id)) {
      throw new DdiaError(PartErrors.configRefused, `node ${id} is already a member`, {
        refusal: 'node_exists',
      });
    }
    this.joining.add(id);
    try {
      if (!raft.status().members.some((m) => m.id === id)) {
        await raft.addMember({ id, url }, { timeoutMs: JOIN_TIMEOUT_MS }).catch((error: Error) => {
          throw new DdiaError(
            PartErrors.noController,
            `adding ${id} to the controller group failed: ${error.message}`,
          );
        });
      }
      return this.answer(await this.propose({ op: 'join', id, url }));
    } finally {
      this.joining.delete(id);
    }
  }

  async leave(id: string): Promise<object> {
    return this.answer(await this.propose({ op: 'leave', id }));
  }

  private answer(result: ConfigResult): object {
    if (!result.ok) throw new DdiaError(PartErrors.configRefused, result.detail, { refusal: result.refusal });
    const config = this.machine.config as ClusterConfig;
    return { epoch: result.epoch, movesPending: pendingMoves(config).length };
  }

  private async forwardToLeader(
    method: 'POST',
    path: string,
    body: object,
    request: FastifyRequest,
  ): Promise<object> {
    const deadlineAt = performance.now() + LEADER_WAIT_MS;
    for (;;) {
      const leaderUrl = this.raft().status().leaderUrl;
      if (leaderUrl && !this.raft().isLeader) {
        try {
          return await this.client.json<object>(`${leaderUrl}${path}`, {
            method,
            body,
            deadlineMs: JOIN_TIMEOUT_MS + PROPOSE_TIMEOUT_MS,
            retry: false,
            trace: request.trace,
          });
        } catch (error) {
          if (error instanceof ProblemError && error.problem) {
            const p = error.problem;
            throw new DdiaError(
              {
                code: p.code ?? PartErrors.noController.code,
                status: error.status,
                title: p.title ?? 'refused',
                retriable: p.retriable ?? false,
              },
              p.detail,
            );
          }
          throw new DdiaError(
            PartErrors.noController,
            `forwarding to the controller leader failed: ${(error as Error).message}`,
          );
        }
      }
      if (this.raft().isLeader) throw new DdiaError(PartErrors.noController, 'leadership changed; retry');
      if (performance.now() > deadlineAt)
        throw new DdiaError(PartErrors.noController, 'no controller leader');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** GET /cluster: the configuration as this node has applied it, plus moves this node runs. */
  view(): object {
    const config = this.machine.config;
    const status = this.raft().status();
    if (!config)
      return { epoch: 0, bootstrapped: false, controller: { leader: status.leaderId, term: status.term } };
    const owned = new Map(config.nodes.map((n) => [n.id, 0]));
    for (const p of config.partitions) owned.set(p.owner, (owned.get(p.owner) ?? 0) + 1);
    return {
      epoch: config.epoch,
      scheme: config.scheme,
      controller: { leader: status.leaderId, term: status.term, members: status.members.map((m) => m.id) },
      ...(config.replicas ? { replicas: config.replicas } : {}),
      nodes: config.nodes.map((n) => ({
        ...n,
        partitions: owned.get(n.id) ?? 0,
        ...(config.replicas
          ? { follows: config.partitions.filter((p) => p.replicas?.includes(n.id)).length }
          : {}),
      })),
      partitions: config.partitions.map((p) => ({
        id: p.id,
        owner: p.owner,
        ...(p.target !== p.owner ? { target: p.target } : {}),
        ...(p.frozen ? { frozen: true } : {}),
        ...(p.replicas ? { replicas: p.replicas } : {}),
        ...(p.range ? { range: p.range } : { slot: p.id }),
        since: p.since,
      })),
      moves: {
        pending: pendingMoves(config).map((p) => ({
          partition: p.id,
          from: p.owner,
          to: p.target,
          frozen: p.frozen,
        })),
        // Only the controller leader runs moves; ask it for their progress.
        running: [...this.mover.inProgress.values()],
      },
    };
  }
}
