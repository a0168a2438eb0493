import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import {
  type FakeCity,
  type FakeOpenWeather,
  FORECAST_START,
  startFakeOpenWeather,
} from '../helpers/fake-openweather.ts';
import { manifestTransport } from '../helpers/server-transport.ts';

const SERVER_DIR = fileURLToPath(new URL('../../servers/weather/', import.meta.url));
const API_KEY = '0123456789abcdef0123456789abcdef';
const WRONG_KEY = 'fedcba9876543210fedcba9876543210';

const Manifest = z.object({
  server: z.object({
    transport: z.literal('stdio'),
    command: z.string(),
    args: z.array(z.string()).default([]),
  }),
  settings: z.array(
    z.object({ key: z.string(), secret: z.boolean().optional(), required: z.boolean() }),
  ),
  outboundHosts: z.array(z.string()),
});
const manifest = Manifest.parse(
  parse(readFileSync(path.join(SERVER_DIR, 'switchboard.yaml'), 'utf8')),
);

function weatherTransport(settings: Record<string, string>) {
  return manifestTransport(SERVER_DIR, manifest.server, settings);
}

const TextBlock = z.object({ type: z.literal('text'), text: z.string() });
const firstText = (content: unknown) =>
  TextBlock.parse(z.array(z.unknown()).parse(content)[0]).text;

const LONDON: FakeCity = {
  name: 'London',
  country: 'GB',
  description: 'light rain',
  temp: 11.8,
  feelsLike: 10.9,
  humidity: 81,
  windSpeed: 4.1,
  // Ten slots, more than the server asks for, so the test sees it sends cnt=8.
  forecast: [11, 10.5, 9, 8.25, 8, 9.5, 12, 13, 14, 15].map((temp, i) => ({
    temp,
    description: i < 4 ? 'light rain' : 'overcast clouds',
  })),
};
const BIGVILLE: FakeCity = { ...LONDON, name: 'Bigville', forecast: [], padBytes: 300_000 };

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

describe('servers/weather over stdio against a fake OpenWeatherMap', () => {
  let api: FakeOpenWeather;
  let client: Client;

  beforeAll(async () => {
    api = await startFakeOpenWeather({ apiKey: API_KEY, cities: [LONDON, BIGVILLE] });
    client = new Client({ name: 'servers-weather-test', version: '0.0.0' });
    const started = performance.now();
    await client.connect(weatherTransport({ WEATHER_API_KEY: API_KEY, WEATHER_API_URL: api.url }));
    await client.listTools();
    console.info(
      `weather cold spawn → first tools/list: ${(performance.now() - started).toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    await client?.close();
    await api?.close();
  });

  it('declares its settings and host, and lists both tools with input and output schemas', async () => {
    expect(manifest.settings).toEqual([
      expect.objectContaining({ key: 'WEATHER_API_KEY', secret: true, required: true }),
      expect.objectContaining({ key: 'WEATHER_API_URL', required: false }),
    ]);
    expect(manifest.outboundHosts).toEqual(['api.openweathermap.org']);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['current_weather', 'forecast']);
    for (const tool of tools) {
      expect(tool.inputSchema).toMatchObject({
        type: 'object',
        properties: { city: { type: 'string' }, units: { enum: ['metric', 'imperial'] } },
        required: ['city'],
      });
      expect(tool.outputSchema).toMatchObject({ type: 'object' });
      expect(tool.annotations?.readOnlyHint).toBe(true);
    }
  });

  it('current_weather sends the key as appid and metric units by default', async () => {
    api.requests.length = 0;
    const result = await client.callTool({
      name: 'current_weather',
      arguments: { city: 'London' },
    });
    expect(result.isError).toBeFalsy();
    expect(firstText(result.content)).toBe(
      'London, GB: light rain, 11.8 °C (feels like 10.9 °C), humidity 81%, wind 4.1 m/s',
    );
    expect(result.structuredContent).toEqual({
      city: 'London',
      country: 'GB',
      description: 'light rain',
      temperature: 11.8,
      feelsLike: 10.9,
      humidity: 81,
      windSpeed: 4.1,
      units: 'metric',
      observedAt: iso(FORECAST_START - 600),
    });
    expect(api.requests).toEqual([
      {
        method: 'GET',
        path: '/data/2.5/weather',
        query: { q: 'London', units: 'metric', appid: API_KEY },
      },
    ]);
  });

  it('current_weather passes imperial units through and labels °F and mph', async () => {
    api.requests.length = 0;
    const result = await client.callTool({
      name: 'current_weather',
      arguments: { city: 'london,gb', units: 'imperial' },
    });
    expect(firstText(result.content)).toBe(
      'London, GB: light rain, 53.2 °F (feels like 51.6 °F), humidity 81%, wind 9.17 mph',
    );
    expect(result.structuredContent).toMatchObject({
      temperature: 53.24,
      feelsLike: 51.62,
      windSpeed: 9.17,
      units: 'imperial',
    });
    expect(api.requests.map((r) => r.query)).toEqual([
      { q: 'london,gb', units: 'imperial', appid: API_KEY },
    ]);
  });

  it('forecast asks for the next 8 slots (24 hours) and lists them', async () => {
    api.requests.length = 0;
    const result = await client.callTool({ name: 'forecast', arguments: { city: 'London' } });
    expect(result.isError).toBeFalsy();
    const slots = [11, 10.5, 9, 8.25, 8, 9.5, 12, 13];
    expect(result.structuredContent).toEqual({
      city: 'London',
      country: 'GB',
      units: 'metric',
      entries: slots.map((temperature, i) => ({
        time: iso(FORECAST_START + i * 3 * 3600),
        temperature,
        description: i < 4 ? 'light rain' : 'overcast clouds',
      })),
    });
    const lines = firstText(result.content).split('\n');
    expect(lines).toHaveLength(9);
    expect(lines[0]).toBe('Forecast for London, GB:');
    expect(lines[1]).toBe('2026-01-01 12:00 UTC  11.0 °C  light rain');
    expect(lines[8]).toBe('2026-01-02 09:00 UTC  13.0 °C  overcast clouds');
    expect(api.requests).toEqual([
      {
        method: 'GET',
        path: '/data/2.5/forecast',
        query: { q: 'London', units: 'metric', appid: API_KEY, cnt: '8' },
      },
    ]);
  });

  it('forecast in imperial units', async () => {
    api.requests.length = 0;
    const result = await client.callTool({
      name: 'forecast',
      arguments: { city: 'London', units: 'imperial' },
    });
    const { entries } = z
      .object({ entries: z.array(z.object({ temperature: z.number() })) })
      .parse(result.structuredContent);
    expect(entries[0]?.temperature).toBe(51.8);
    expect(firstText(result.content).split('\n')[1]).toBe(
      '2026-01-01 12:00 UTC  51.8 °F  light rain',
    );
    expect(api.requests[0]?.query.units).toBe('imperial');
  });

  it('an unknown city is a tool error naming it (the API answers 404)', async () => {
    for (const name of ['current_weather', 'forecast']) {
      api.requests.length = 0;
      const result = await client.callTool({ name, arguments: { city: 'Atlantis' } });
      expect(result.isError).toBe(true);
      expect(firstText(result.content)).toBe('no such city: Atlantis');
      expect(result.structuredContent).toBeUndefined();
      expect(api.requests).toHaveLength(1);
    }
  });

  it('refuses a blank city or unknown units before any request', async () => {
    api.requests.length = 0;
    const blank = await client.callTool({ name: 'current_weather', arguments: { city: '  ' } });
    expect(blank.isError).toBe(true);
    expect(firstText(blank.content)).toMatch(/city/);
    const kelvin = await client.callTool({
      name: 'forecast',
      arguments: { city: 'London', units: 'standard' },
    });
    expect(kelvin.isError).toBe(true);
    expect(api.requests).toEqual([]);
  });

  it('refuses an answer over the size cap instead of buffering it', async () => {
    const result = await client.callTool({
      name: 'current_weather',
      arguments: { city: 'Bigville' },
    });
    expect(result.isError).toBe(true);
    expect(firstText(result.content)).toMatch(/more than 262144 bytes/);
  });
});

describe('servers/weather with a wrong key', () => {
  it('reports 401 as a tool error that never contains the key', async () => {
    const api = await startFakeOpenWeather({ apiKey: API_KEY, cities: [LONDON] });
    const client = new Client({ name: 'servers-weather-badkey', version: '0.0.0' });
    let stderr = '';
    const transport = weatherTransport({ WEATHER_API_KEY: WRONG_KEY, WEATHER_API_URL: api.url });
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    try {
      await client.connect(transport);
      for (const name of ['current_weather', 'forecast']) {
        const result = await client.callTool({ name, arguments: { city: 'London' } });
        expect(result.isError).toBe(true);
        const text = firstText(result.content);
        expect(text).toBe('OpenWeatherMap rejected WEATHER_API_KEY (401)');
        expect(JSON.stringify(result)).not.toContain(WRONG_KEY);
      }
      expect(api.requests.map((r) => r.query.appid)).toEqual([WRONG_KEY, WRONG_KEY]);
    } finally {
      await client.close();
      await api.close();
    }
    expect(stderr).not.toContain(WRONG_KEY);
  });

  it('keeps the key out of the error when the API cannot be reached', async () => {
    const api = await startFakeOpenWeather({ apiKey: API_KEY, cities: [LONDON] });
    const url = api.url;
    await api.close();
    const client = new Client({ name: 'servers-weather-unreachable', version: '0.0.0' });
    try {
      await client.connect(weatherTransport({ WEATHER_API_KEY: API_KEY, WEATHER_API_URL: url }));
      const result = await client.callTool({
        name: 'current_weather',
        arguments: { city: 'London' },
      });
      expect(result.isError).toBe(true);
      const text = firstText(result.content);
      expect(text).toMatch(/^OpenWeatherMap GET \/data\/2\.5\/weather failed: /);
      expect(text).not.toContain(API_KEY);
    } finally {
      await client.close();
    }
  });
});

describe('servers/weather without WEATHER_API_KEY', () => {
  it('refuses to start (exit 1, a clear stderr line) instead of serving tools that can only fail', async () => {
    const transport = weatherTransport({});
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'servers-weather-nokey', version: '0.0.0' });
    await expect(client.connect(transport)).rejects.toThrow('Connection closed');
    expect(stderr).toContain('weather: invalid settings: WEATHER_API_KEY: missing');

    // The MCP transport does not report exit codes: run the same command line directly.
    const child = spawn(
      'env',
      [
        '-i',
        `PATH=${process.env.PATH ?? ''}`,
        `HOME=${process.env.HOME ?? ''}`,
        'WEATHER_API_KEY=',
        manifest.server.command,
        ...manifest.server.args,
      ],
      { cwd: SERVER_DIR, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let emptyStderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      emptyStderr += chunk.toString('utf8');
    });
    const [code] = await once(child, 'close');
    expect(code).toBe(1);
    expect(emptyStderr.trim()).toBe(
      'weather: invalid settings: WEATHER_API_KEY: empty; set it to an OpenWeatherMap API key',
    );
  });
});
