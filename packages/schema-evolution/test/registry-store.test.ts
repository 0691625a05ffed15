// The registry domain without HTTP: store failures surface as 50001, state reloads from the store.
import { openStore } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../src/registry/errors.js';
import { SchemaRegistry } from '../src/registry/registry.js';
import { record } from './helpers.js';

describe('SchemaRegistry on a store', () => {
  it('answers 50001 when the store fails, and keeps its memory unchanged', async () => {
    const store = await openStore({ engine: 'memory', valueEncoding: 'json' });
    const registry = await SchemaRegistry.open(store);
    await registry.register('a', { schema: record('A', [['x', 'int']]) });
    await store.close();
    const failed = registry.register('a', {
      schema: record('A', [
        ['x', 'int'],
        ['y', 'int', 0],
      ]),
    });
    await expect(failed).rejects.toBeInstanceOf(RegistryError);
    await expect(failed).rejects.toMatchObject({ errorCode: 50001, status: 500 });
    expect(registry.listVersions('a')).toEqual([1]);
  });

  it('reloads subjects, versions, soft deletes, ids and settings from the store', async () => {
    const store = await openStore({ engine: 'memory', valueEncoding: 'json' });
    const first = await SchemaRegistry.open(store);
    await first.setConfig('b', 'NONE');
    await first.setMode('c', 'READONLY');
    const v1 = await first.register('b', { schema: record('B', [['x', 'int']]) });
    const v2 = await first.register('b', { schema: record('B', [['x', 'string']]) });
    await first.deleteVersion('b', 1, false);
    const second = await SchemaRegistry.open(store);
    expect(second.listVersions('b', true)).toEqual([1, 2]);
    expect(second.listVersions('b')).toEqual([2]);
    expect(second.getVersion('b', 'latest').id).toBe(v2.id);
    expect(second.getSchemaById(v1.id).schema).toContain('"int"');
    expect(second.getConfig('b')).toBe('NONE');
    expect(second.getMode('c')).toBe('READONLY');
    const v3 = await second.register('d', { schema: record('D', [['z', 'long']]) });
    expect(v3.id).toBe(v2.id + 1);
  });

  it('refuses to start on a store holding keys it does not understand', async () => {
    const store = await openStore({ engine: 'memory', valueEncoding: 'json' });
    await store.put('surprise/1', 1);
    await expect(SchemaRegistry.open(store)).rejects.toThrow(/unknown key/);
  });
});
