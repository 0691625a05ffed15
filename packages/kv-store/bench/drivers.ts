// How each system's requests travel, each over its own native protocol: ours as HTTP/1.1 to
// `PUT/GET /kv/:key` (keep-alive, one connection per client per member), etcd's as gRPC calls
// (KV.Put, KV.Range) through the `etcd3` client, one HTTP/2 channel per member that carries
// all clients' calls, as etcd's own clients do.
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { Pool } from 'undici';
import { type Driver, type Request, RequestFailed } from './load.js';

/** How long an idle keep-alive connection stays open: longer than any pause between rounds. */
const KEEP_ALIVE_MS = 30_000;

/** Our members' HTTP API; `connections` per member (one per concurrent client). */
export function kvStoreDriver(connections: number): Driver {
  const pools = new Map<string, Pool>();
  const pool = (origin: string) => {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, { connections, keepAliveTimeout: KEEP_ALIVE_MS, pipelining: 1 });
      pools.set(origin, p);
    }
    return p;
  };
  return {
    async send(req, timeoutMs) {
      const res = await pool(req.origin).request({
        method: req.kind === 'put' ? 'PUT' : 'GET',
        path: `/kv/${req.key}`,
        ...(req.kind === 'put'
          ? { body: req.value, headers: { 'content-type': 'application/octet-stream' } }
          : {}),
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      });
      await res.body.arrayBuffer();
      if (res.statusCode < 200 || res.statusCode >= 300) throw new RequestFailed(String(res.statusCode));
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}

/** etcd's gRPC API through the etcd3 client, one client (one channel) per member. The
 *  client's retries and circuit breaker are off: a failed call counts as failed, as ours does,
 *  and the failover timing sees every attempt. Reads are linearizable (etcd3's default). */
export function etcdDriver(): Driver {
  const clients = new Map<string, Etcd3>();
  const client = (origin: string) => {
    let c = clients.get(origin);
    if (!c) {
      c = new Etcd3({ hosts: origin, faultHandling: { host: () => noop, global: noop } });
      clients.set(origin, c);
    }
    return c;
  };
  return {
    async send(req: Request, timeoutMs?: number) {
      const options = timeoutMs === undefined ? undefined : { deadline: Date.now() + timeoutMs };
      if (req.kind === 'put')
        await client(req.origin)
          .put(req.key)
          .value(req.value ?? Buffer.alloc(0))
          .options(options)
          .exec();
      else await client(req.origin).get(req.key).options(options).exec();
    },
    async close() {
      for (const c of clients.values()) c.close();
    },
  };
}
