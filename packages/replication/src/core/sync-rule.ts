// Which standbys must confirm a write before the leader answers, in PostgreSQL's
// synchronous_standby_names grammar (trimmed): "ANY k (a, b, c)" is quorum commit (any k of
// the list), "FIRST k (a, b, c)" or "k (a, b, c)" waits for the first k live names in order
// of priority, a bare "a, b" is "FIRST 1 (a, b)", and "" (or "async") waits for nobody.
import { ReplicationErrors, replicationError } from './errors.js';
import type { NodeId } from './version-vector.js';

export interface SyncRule {
  method: 'any' | 'first';
  count: number;
  names: NodeId[];
}

export function parseSyncRule(text: string): SyncRule | null {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'async') return null;
  const match = /^(?:(ANY|FIRST)\s+)?(?:(\d+)\s*)?\(([^)]*)\)$/i.exec(trimmed);
  const bare = /^[A-Za-z0-9_.-]+(\s*,\s*[A-Za-z0-9_.-]+)*$/.test(trimmed);
  if (!match && !bare) {
    throw replicationError(
      ReplicationErrors.badRequest,
      `'${text}' is not ANY k (a, b), FIRST k (a, b) or a, b`,
    );
  }
  const names = (match ? (match[3] ?? '') : trimmed)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const method = match?.[1]?.toLowerCase() === 'any' ? 'any' : 'first';
  const count = match?.[2] ? Number(match[2]) : 1;
  if (names.length === 0 || count < 1 || count > names.length) {
    throw replicationError(
      ReplicationErrors.badRequest,
      `'${text}' asks for ${count} of ${names.length} standbys`,
    );
  }
  return { method, count, names };
}

/**
 * Whether a write at `position` is confirmed. `match` says how far each standby has
 * confirmed; `live` tells FIRST which names count as the current priority standbys.
 */
export function syncSatisfied(
  rule: SyncRule,
  position: number,
  match: (node: NodeId) => number,
  live: (node: NodeId) => boolean,
): boolean {
  const candidates = rule.method === 'any' ? rule.names : rule.names.filter(live).slice(0, rule.count);
  const confirmed = candidates.filter((node) => match(node) >= position).length;
  return confirmed >= rule.count;
}

export function formatSyncRule(rule: SyncRule | null): string {
  return rule ? `${rule.method.toUpperCase()} ${rule.count} (${rule.names.join(', ')})` : 'async';
}
