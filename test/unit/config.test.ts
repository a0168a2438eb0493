import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, publicUrlFor, unknownVariables } from '../../gateway/src/config.ts';
import { ConfigError } from '../../gateway/src/errors.ts';
import { REPO_ROOT, runSwitchboard } from '../helpers/gateway.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv/app');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected loadConfig to throw');
}

describe('config (ARCHITECTURE §4 environment)', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      publicUrl: undefined,
      databaseUrl: undefined,
      dataDir: '/srv/app/.switchboard',
      integrationDirs: ['/srv/app/servers'],
      policyPath: '/srv/app/policy/default.yaml',
      masterKey: undefined,
      adminKey: undefined,
      logLevel: 'info',
      logFormat: 'auto',
      shutdownTimeoutMs: 10_000,
      taskLeaseMs: 30_000,
      mcpTaskUpstreamMaxMs: 3_300_000,
      containment: 'auto',
      embeddedMemory: { sharedBuffersKb: 16_384, workMemKb: 4096, maintenanceWorkMemKb: 16_384 },
    });
    expect(publicUrlFor(config, 8080)).toBe('http://127.0.0.1:8080');
  });

  it('reads every variable and treats empty strings as unset', () => {
    const config = loadConfig(
      {
        PORT: '9000',
        HOST: '0.0.0.0',
        SWITCHBOARD_PUBLIC_URL: 'https://gw.example.com/',
        DATABASE_URL: 'postgres://u:p@db:5432/sb',
        SWITCHBOARD_DATA_DIR: '/var/lib/sb',
        INTEGRATION_DIRS: 'servers:/opt/more',
        SWITCHBOARD_POLICY: 'conf/policy.yaml',
        SWITCHBOARD_MASTER_KEY: 'a'.repeat(64),
        SWITCHBOARD_ADMIN_KEY: 'k'.repeat(40),
        LOG_LEVEL: '',
      },
      '/srv/app',
    );
    expect(config.port).toBe(9000);
    expect(config.publicUrl).toBe('https://gw.example.com');
    expect(config.integrationDirs).toEqual(['/srv/app/servers', '/opt/more']);
    expect(config.policyPath).toBe(path.resolve('/srv/app', 'conf/policy.yaml'));
    expect(config.masterKey?.length).toBe(32);
    expect(config.logLevel).toBe('info');
  });

  it('accepts a base64 master key of 32 bytes', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ SWITCHBOARD_MASTER_KEY: key }).masterKey).toEqual(Buffer.alloc(32, 7));
  });

  it.each([
    ['PORT', 'abc', 'PORT="abc": expected an integer from 0 to 65535'],
    ['PORT', '70000', 'PORT="70000": expected an integer from 0 to 65535'],
    [
      'SWITCHBOARD_PUBLIC_URL',
      'gw.example.com',
      'SWITCHBOARD_PUBLIC_URL="gw.example.com": expected an absolute http(s) URL',
    ],
    [
      'SWITCHBOARD_PUBLIC_URL',
      'ftp://x',
      'SWITCHBOARD_PUBLIC_URL="ftp://x": expected an absolute http(s) URL',
    ],
    [
      'LOG_LEVEL',
      'loud',
      'LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent',
    ],
    [
      'SWITCHBOARD_SHUTDOWN_TIMEOUT_MS',
      '10s',
      'SWITCHBOARD_SHUTDOWN_TIMEOUT_MS="10s": expected a whole number of milliseconds',
    ],
    [
      'SWITCHBOARD_TASK_LEASE_MS',
      '500',
      'SWITCHBOARD_TASK_LEASE_MS="500": expected at least 1000 ms',
    ],
    [
      'SWITCHBOARD_EMBEDDED_SHARED_BUFFERS',
      '16',
      'SWITCHBOARD_EMBEDDED_SHARED_BUFFERS="16": expected a size in kB, MB or GB, e.g. 16MB',
    ],
    [
      'SWITCHBOARD_EMBEDDED_SHARED_BUFFERS',
      '512kB',
      'SWITCHBOARD_EMBEDDED_SHARED_BUFFERS="512kB": expected at least 1MB',
    ],
    [
      'SWITCHBOARD_HEAP_GROWTH_PERCENT',
      '1.5',
      'SWITCHBOARD_HEAP_GROWTH_PERCENT="1.5": expected a whole number of percent, 0 (V8 decides) to 300',
    ],
    [
      'SWITCHBOARD_HEAP_GROWTH_PERCENT',
      '301',
      'SWITCHBOARD_HEAP_GROWTH_PERCENT="301": expected at most 300',
    ],
    [
      'SWITCHBOARD_EMBEDDED_WORK_MEM',
      '2GB',
      'SWITCHBOARD_EMBEDDED_WORK_MEM="2GB": expected at most 1024MB',
    ],
  ])('names %s=%j and what was expected', (name, value, expected) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it('masks the password of a bad DATABASE_URL', () => {
    const [problem] = problemsOf({ DATABASE_URL: 'mysql://root:hunter2@db/sb' });
    expect(problem).toContain('DATABASE_URL="mysql://root:******@db/sb"');
    expect(problem).toContain('expected a postgres:// or postgresql:// URL');
    expect(problem).not.toContain('hunter2');
  });

  it.each([
    ['SWITCHBOARD_MASTER_KEY', 'not-a-key-but-secret', 'expected 32 random bytes'],
    ['SWITCHBOARD_ADMIN_KEY', 'short secret', 'expected 32 to 256 printable characters'],
  ])('never prints a bad %s, only its length', (name, value, expected) => {
    const [problem] = problemsOf({ [name]: value });
    expect(problem).toContain(`${name}=****** (${value.length} characters): ${expected}`);
    expect(problem).not.toContain(value);
  });

  it('pins the heap growth at 50 % unless told, 0 leaving it to V8', () => {
    expect(loadConfig({}, '/srv/app').heapGrowthPercent).toBe(50);
    expect(loadConfig({ SWITCHBOARD_HEAP_GROWTH_PERCENT: '0' }, '/srv/app').heapGrowthPercent).toBe(
      0,
    );
    expect(
      loadConfig({ SWITCHBOARD_HEAP_GROWTH_PERCENT: '300' }, '/srv/app').heapGrowthPercent,
    ).toBe(300);
  });

  it('reads the embedded database memory settings in kB, MB or GB', () => {
    const config = loadConfig(
      {
        SWITCHBOARD_EMBEDDED_SHARED_BUFFERS: '64MB',
        SWITCHBOARD_EMBEDDED_WORK_MEM: '512kB',
        SWITCHBOARD_EMBEDDED_MAINTENANCE_WORK_MEM: '1GB',
      },
      '/srv/app',
    );
    expect(config.embeddedMemory).toEqual({
      sharedBuffersKb: 65_536,
      workMemKb: 512,
      maintenanceWorkMemKb: 1_048_576,
    });
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({ PORT: '-1', LOG_LEVEL: 'x', HOST: ' ' });
    expect(problems.map((p) => p.split('=')[0])).toEqual(['PORT', 'LOG_LEVEL']);
  });

  it('LOG_FORMAT is auto, json or pretty', () => {
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, '/srv/app').logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }, '/srv/app').logFormat).toBe('json');
    expect(problemsOf({ LOG_FORMAT: 'text' })).toEqual([
      'LOG_FORMAT="text": expected one of auto, json, pretty (auto: pretty on a terminal, JSON lines otherwise)',
    ]);
  });

  it('points out SWITCHBOARD_* variables it does not know', () => {
    expect(
      unknownVariables({ SWITCHBOARD_PUBLICURL: 'x', SWITCHBOARD_DATA_DIR: 'y', PORTS: '1' }),
    ).toEqual(['SWITCHBOARD_PUBLICURL']);
  });

  it('does not call integration settings (SWITCHBOARD_SETTING_<NAME>__<KEY>) typos', () => {
    expect(
      unknownVariables({
        SWITCHBOARD_SETTING_WEATHER__WEATHER_API_KEY: 'k',
        SWITCHBOARD_SETTINGS: 'typo',
      }),
    ).toEqual(['SWITCHBOARD_SETTINGS']);
  });

  it('egress (issue 21): on by default with its caps, off on request, the override list parsed', () => {
    expect(loadConfig({}, '/srv/app').egress).toEqual({
      port: 0,
      resolve: [],
      limits: {
        connectTimeoutMs: 10_000,
        maxDurationMs: 3_600_000,
        idleTimeoutMs: 120_000,
        maxBytes: 268_435_456,
        maxConnectionsPerIntegration: 64,
      },
    });
    expect(loadConfig({ SWITCHBOARD_EGRESS: 'off' }, '/srv/app').egress).toBeUndefined();
    const resolve = loadConfig(
      { SWITCHBOARD_EGRESS_RESOLVE: 'API.GitHub.com:443=127.0.0.1:40001, v6.test=[::1]' },
      '/srv/app',
    ).egress?.resolve;
    expect(resolve).toEqual([
      {
        host: 'api.github.com',
        port: 443,
        address: { address: '127.0.0.1', family: 4 },
        toPort: 40001,
      },
      {
        host: 'v6.test',
        port: undefined,
        address: { address: '::1', family: 6 },
        toPort: undefined,
      },
    ]);
  });

  it('egress: each bad variable named with what was expected', () => {
    const problems = problemsOf({
      SWITCHBOARD_EGRESS: 'yes',
      SWITCHBOARD_EGRESS_PORT: '70000',
      SWITCHBOARD_EGRESS_RESOLVE: 'api.github.com=nowhere',
      SWITCHBOARD_EGRESS_MAX_CONNECTIONS: '0',
    });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe('SWITCHBOARD_EGRESS="yes": expected on or off');
    expect(problems[1]).toBe(
      'SWITCHBOARD_EGRESS_PORT="70000": expected a TCP port, 0 to 65535 (0: any free one)',
    );
    expect(problems[2]).toContain('SWITCHBOARD_EGRESS_RESOLVE="api.github.com=nowhere": ');
    expect(problems[2]).toContain('"nowhere" is not an IP address');
    expect(problems[3]).toBe(
      'SWITCHBOARD_EGRESS_MAX_CONNECTIONS="0": expected 1 to 10000 connections',
    );
  });

  it('stops `switchboard start` with exit code 2 and the message on stderr', async () => {
    const result = await runSwitchboard(['start'], {
      PORT: 'eighty',
      SWITCHBOARD_ADMIN_KEY: 'tiny',
      SWITCHBOARD_DATA_DIR: path.join(REPO_ROOT, '.switchboard-never-created'),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid configuration (2 problems)');
    expect(result.stderr).toContain('PORT="eighty": expected an integer from 0 to 65535');
    expect(result.stderr).toContain('SWITCHBOARD_ADMIN_KEY=****** (4 characters)');
    expect(result.stderr).not.toContain('tiny');
    expect(result.stdout).toBe('');
  });
});
