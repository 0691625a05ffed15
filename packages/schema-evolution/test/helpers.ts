// Shared test plumbing: an in-process registry on a random port, and a curl-like fetch wrapper.
import { parseConfig } from '@ddia/common';
import { createRegistryService } from '../src/server.js';

export const CT = 'application/vnd.schemaregistry.v1+json';

export interface Running {
  url: string;
  close(): Promise<void>;
}

export async function startRegistry(flags: string[] = ['--engine', 'memory']): Promise<Running> {
  const config = parseConfig(['--port', '0', '--log-level', 'silent', ...flags]);
  const service = await createRegistryService({ config, handleSignals: false });
  const url = await service.listen();
  return { url, close: () => service.close() };
}

export interface Answer {
  status: number;
  contentType: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  body: any;
  text: string;
}

export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  contentType: string = CT,
): Promise<Answer> {
  const response = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: parsed,
    text,
  };
}

/** A record schema text, fields given as [name, type, default?]. */
export function record(
  name: string,
  fields: [string, unknown, unknown?][],
  extra: Record<string, unknown> = {},
) {
  return JSON.stringify({
    type: 'record',
    name,
    ...extra,
    fields: fields.map(([n, t, d]) =>
      d === undefined ? { name: n, type: t } : { name: n, type: t, default: d },
    ),
  });
}
