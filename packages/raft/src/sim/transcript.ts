// A tiny script language for readable protocol transcripts, after etcd-io/raft's datadriven
// testdata: each block is a command, a `----` line, and the output it must produce.
//
//   cluster n1 n2 n3 prevote=true checkquorum=true   start a cluster (founding members)
//   campaign n1                                       n1 starts an election now
//   propose n1 x=1                                    n1 (the leader) appends a command
//   deliver [rounds=N] [to=n2] [from=n1]              deliver queued messages, print each
//   drop [to=n2] [from=n1]                            lose queued messages
//   tick [n1 n2] [times=N]                            advance logical clocks
//   partition n1 | n2 n3    heal                      cut / restore links
//   crash n1    restart n1                            lose / recover a node (disk survives)
//   read n1 ctx                                       ReadIndex with a request id
//   transfer n1 n2                                    leadership transfer
//   status      log n1                                print node states / a node's log
//
// After every command the transcript also prints what changed on each node (role, term,
// leader, commit index), so that the story of an election or a repair reads top to bottom.
import type { Message, NodeId } from '../core/types.js';
import { Cluster } from './cluster.js';
import type { SimRaftOptions } from './sim-node.js';

const dec = new TextDecoder();

interface NodeSnapshot {
  role: string;
  term: number;
  leader: string;
  commit: number;
  up: boolean;
}

export class TranscriptError extends Error {
  override name = 'TranscriptError';
}

function entryText(e: { index: number; term: number; type: string; data: Uint8Array }): string {
  const body =
    e.type === 'normal' ? dec.decode(e.data) : e.type === 'conf' ? `conf ${dec.decode(e.data)}` : 'noop';
  return `${e.index}/${e.term} ${body}`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'vote':
    case 'preVote':
      return `${head} last=${m.index}/${m.logTerm}${m.context ? ` ${m.context}` : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'app':
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(entryText).join(', ')}]`;
    case 'appResp':
      return m.reject
        ? `${head} rejected prev=${m.index} hint=${m.hintIndex}/${m.hintTerm}`
        : `${head} ok index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` read=${m.context}` : ''}`;
    case 'heartbeatResp':
      return `${head}${m.context ? ` read=${m.context}` : ''}`;
    case 'snap':
      return `${head} snapshot=${m.snapshot?.meta.index}/${m.snapshot?.meta.term}`;
    case 'readIndex':
      return `${head} read=${m.context}`;
    case 'readIndexResp':
      return `${head} read=${m.context} index=${m.index}`;
    case 'timeoutNow':
      return head;
    case 'prop':
      return `${head} entries=[${m.entries.map((e) => dec.decode(e.data)).join(', ')}]`;
  }
}

function parseArgs(words: string[]): { positional: string[]; named: Map<string, string> } {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0 && /^[a-z]+$/.test(w.slice(0, eq))) named.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w);
  }
  return { positional, named };
}

export class TranscriptRunner {
  private cluster: Cluster | null = null;
  private before = new Map<NodeId, NodeSnapshot>();

  private get c(): Cluster {
    if (!this.cluster) throw new TranscriptError('start with: cluster n1 n2 n3');
    return this.cluster;
  }

  private snapshotStates(): Map<NodeId, NodeSnapshot> {
    const out = new Map<NodeId, NodeSnapshot>();
    for (const [id, n] of this.c.nodes) {
      const r = n.raft;
      out.set(id, {
        role: r?.role ?? 'down',
        term: r?.term ?? 0,
        leader: r?.leaderId ?? '-',
        commit: r?.log.committed ?? 0,
        up: r !== null,
      });
    }
    return out;
  }

  private changes(): string[] {
    const after = this.snapshotStates();
    const lines: string[] = [];
    for (const [id, a] of after) {
      const b = this.before.get(id);
      if (!b) continue;
      const parts: string[] = [];
      if (a.role !== b.role) parts.push(`${b.role} -> ${a.role}`);
      if (a.term !== b.term) parts.push(`term ${b.term} -> ${a.term}`);
      if (a.leader !== b.leader) parts.push(`leader ${b.leader} -> ${a.leader}`);
      if (a.commit !== b.commit) parts.push(`commit ${b.commit} -> ${a.commit}`);
      if (parts.length > 0) lines.push(`  ${id}: ${parts.join(', ')}`);
    }
    return lines;
  }

  private filter(named: Map<string, string>): (m: Message) => boolean {
    const to = named.get('to')?.split(',');
    const from = named.get('from')?.split(',');
    const type = named.get('type')?.split(',');
    return (m) =>
      (!to || to.includes(m.to)) && (!from || from.includes(m.from)) && (!type || type.includes(m.type));
  }

  run(command: string): string[] {
    const [verb, ...rest] = command.trim().split(/\s+/);
    const { positional, named } = parseArgs(rest);
    if (verb !== 'cluster') this.before = this.snapshotStates();
    const out: string[] = [];
    switch (verb) {
      case 'cluster': {
        const opt = (k: string, d: boolean) => (named.has(k) ? named.get(k) === 'true' : d);
        const raft: SimRaftOptions = {
          preVote: opt('prevote', true),
          checkQuorum: opt('checkquorum', true),
          electionTicks: Number(named.get('election') ?? 10),
          appendEntriesMax: Number(named.get('batch') ?? 64),
        };
        this.cluster = new Cluster({ ids: positional, seed: Number(named.get('seed') ?? 1), raft });
        this.before = this.snapshotStates();
        out.push(`${positional.length} nodes, founding members ${positional.join(' ')} at term 1`);
        break;
      }
      case 'campaign':
        this.c.campaign(positional[0]);
        break;
      case 'propose':
        if (!this.c.propose(positional[0], positional.slice(1).join(' ')))
          out.push(`${positional[0]}: not leader`);
        break;
      case 'deliver': {
        const rounds = named.has('rounds') ? Number(named.get('rounds')) : Number.POSITIVE_INFINITY;
        for (const m of this.c.deliver(this.filter(named), rounds)) out.push(formatMessage(m));
        break;
      }
      case 'drop':
        out.push(`dropped ${this.c.drop(this.filter(named))}`);
        break;
      case 'tick': {
        const ids = positional.length > 0 ? positional : [...this.c.nodes.keys()];
        this.c.tick(ids, Number(named.get('times') ?? 1));
        break;
      }
      case 'partition': {
        const groups = rest
          .join(' ')
          .split('|')
          .map((g) => g.trim().split(/\s+/).filter(Boolean));
        this.c.partition(groups);
        out.push(`partitioned ${groups.map((g) => g.join(' ')).join(' | ')}`);
        break;
      }
      case 'heal':
        this.c.heal();
        break;
      case 'crash':
        this.c.crash(positional[0]);
        break;
      case 'restart':
        this.c.restart(positional[0]);
        break;
      case 'read':
        if (!this.c.readIndex(positional[0], positional[1] ?? 'r'))
          out.push(`${positional[0]}: no leader known`);
        for (const rs of this.c.node(positional[0]).readStates)
          out.push(`${positional[0]} read ${rs.context} at index ${rs.index}`);
        break;
      case 'transfer':
        if (!this.c.transferLeadership(positional[0], positional[1])) out.push('refused');
        break;
      case 'status':
        for (const [id, n] of this.c.nodes) {
          const r = n.raft;
          if (!r) {
            out.push(`${id}: down`);
            continue;
          }
          out.push(
            `${id}: ${r.role} term=${r.term} leader=${r.leaderId ?? '-'} last=${r.log.lastIndex()}/${r.log.lastTerm()} commit=${r.log.committed} applied=${n.appliedIndex}`,
          );
        }
        return out;
      case 'log': {
        const r = this.c.raft(positional[0]);
        for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) {
          out.push(`${entryText(r.log.entry(i) as NonNullable<ReturnType<typeof r.log.entry>>)}`);
        }
        return out;
      }
      case 'reads':
        for (const rs of this.c.node(positional[0]).readStates)
          out.push(`${positional[0]} read ${rs.context} at index ${rs.index}`);
        return out;
      default:
        throw new TranscriptError(`unknown command: ${verb}`);
    }
    if (verb !== 'cluster') {
      const queued = this.c.queue.length;
      out.push(...this.changes());
      if (verb !== 'deliver' && queued > 0)
        out.push(`  (${queued} message${queued === 1 ? '' : 's'} queued)`);
    }
    return out.length > 0 ? out : ['ok'];
  }
}

/** Runs a transcript file and returns it with every block's output recomputed. */
export function runTranscript(text: string): string {
  const runner = new TranscriptRunner();
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('#')) {
      out.push(line);
      i++;
      continue;
    }
    out.push(line);
    i++;
    if (lines[i] !== '----') throw new TranscriptError(`line ${i + 1}: expected ---- after "${line}"`);
    out.push('----');
    i++;
    while (i < lines.length && lines[i].trim() !== '') i++; // skip the old output
    out.push(...runner.run(line));
  }
  return out.join('\n');
}
