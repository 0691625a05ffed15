import { ConfigError, parseConfig, parsePeers, usage } from '@ddia/common';
import { describe, expect, it } from 'vitest';

describe('parseConfig', () => {
  it('has safe defaults: loopback, level engine, chaos off', () => {
    const config = parseConfig([]);
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      engine: 'lsm',
      chaos: false,
      logLevel: 'info',
    });
  });

  it('reads flags, then DDIA_* variables, then defaults', () => {
    const config = parseConfig(['--port', '7001', '--chaos'], {
      DDIA_PORT: '9',
      DDIA_ENGINE: 'memory',
      DDIA_ID: 'n2',
    });
    expect(config.port).toBe(7001);
    expect(config.engine).toBe('memory');
    expect(config.id).toBe('n2');
    expect(config.chaos).toBe(true);
  });

  it('parses peers and insists this node is among them', () => {
    const peers = 'n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002/';
    expect(parseConfig(['--id', 'n1', '--peers', peers]).peers).toEqual([
      { id: 'n1', url: 'http://127.0.0.1:7001' },
      { id: 'n2', url: 'http://127.0.0.1:7002' },
    ]);
    expect(() => parseConfig(['--id', 'n3', '--peers', peers])).toThrow(
      /--peers: does not include this node's id 'n3'/,
    );
  });

  it.each([
    [['--port', 'abc'], /--port: expected a number/],
    [['--port', '70000'], /--port: must be at most 65535/],
    [['--engine', 'rocks'], /--engine: must be one of lsm, level, memory/],
    [['--log-level', 'loud'], /--log-level: must be one of/],
    [['--bogus'], /--bogus/],
    [['--peers', 'n1'], /--peers: 'n1' is not id=url/],
    [['--peers', 'n1=ftp://x'], /--peers: .* must be http/],
    [['--peers', 'n1=http://a:1,n1=http://b:2'], /--peers: node id 'n1' appears twice/],
  ])('names the bad flag: %j', (argv, message) => {
    expect(() => parseConfig(argv)).toThrow(ConfigError);
    expect(() => parseConfig(argv)).toThrow(message);
  });

  it('names the variable behind a bad environment value', () => {
    expect(() => parseConfig([], { DDIA_PORT: 'x' })).toThrow(
      /--port: expected a number, got 'x' \(from DDIA_PORT\)/,
    );
  });

  it('names a stray positional argument', () => {
    expect(() => parseConfig(['7001'])).toThrow(/^7001: unexpected argument/);
  });

  it('lists every flag with its variable and default', () => {
    const text = usage({
      'value-bytes-max': { type: 'number', description: 'largest value', default: 1024 },
    });
    expect(text).toMatch(/--port <number>\s+TCP port to listen on \(default 0\) \[DDIA_PORT\]/);
    expect(text).toMatch(/--engine lsm\|level\|memory/);
    expect(text).toMatch(
      /--value-bytes-max <number>\s+largest value \(default 1024\) \[DDIA_VALUE_BYTES_MAX\]/,
    );
  });

  it('takes extra flags with types and bounds', () => {
    const extra = {
      'value-bytes-max': { type: 'number', description: 'max value', default: 1024, min: 1 },
    } as const;
    expect(parseConfig(['--value-bytes-max', '2048'], {}, extra).extra['value-bytes-max']).toBe(2048);
    expect(parseConfig([], {}, extra).extra['value-bytes-max']).toBe(1024);
    expect(() => parseConfig(['--value-bytes-max', '0'], {}, extra)).toThrow(
      /--value-bytes-max: must be at least 1/,
    );
  });

  it('turns a boolean flag that defaults to true off with --no-<flag>', () => {
    const extra = { sloppy: { type: 'boolean', description: 'sloppy quorum', default: true } } as const;
    expect(parseConfig([], {}, extra).extra.sloppy).toBe(true);
    expect(parseConfig(['--no-sloppy'], {}, extra).extra.sloppy).toBe(false);
    expect(parseConfig(['--sloppy'], {}, extra).extra.sloppy).toBe(true);
    expect(parseConfig([], { DDIA_SLOPPY: 'false' }, extra).extra.sloppy).toBe(false);
    expect(usage(extra)).toContain('--sloppy (--no-sloppy turns it off)');
  });

  it('parsePeers accepts an empty list', () => {
    expect(parsePeers('')).toEqual([]);
  });
});
