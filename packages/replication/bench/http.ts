// The benches' HTTP client: node:http's keep-alive agent, the leanest HTTP/1.1 client Node
// ships (llhttp native), as pg is for PostgreSQL. common's HttpClient (undici, a deadline
// signal per request) cost about twice the client CPU per request here.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const TIMEOUT_MS = 10_000;

export interface Answer {
  status: number;
  text: string;
}

export function call(url: string, method: 'GET' | 'PUT', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method,
        agent,
        timeout: TIMEOUT_MS,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end(body);
  });
}

/** Lets the process exit: closes the agent's idle keep-alive sockets. */
export function closeClient(): void {
  agent.destroy();
}
