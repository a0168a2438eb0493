import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake received, recorded before the key check so tests can see rejects too. */
export type RecordedRequest = {
  method: string;
  /** Path without the query, e.g. `/data/2.5/weather`. */
  path: string;
  /** Every query parameter, `appid` included. */
  query: Record<string, string>;
};

/** A city's weather in metric units; the fake converts for `units=imperial` like the API. */
export type FakeCity = {
  name: string;
  country: string;
  description: string;
  /** °C */
  temp: number;
  /** °C */
  feelsLike: number;
  /** percent */
  humidity: number;
  /** m/s */
  windSpeed: number;
  /** 3-hourly forecast, metric; at most 40 entries (5 days) like the API. */
  forecast?: Array<{ temp: number; description: string }>;
  /** Pads every answer for this city with this many bytes, to test a client's size cap. */
  padBytes?: number;
};

export type FakeOpenWeather = {
  /** Base URL to pass as WEATHER_API_URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
};

/** The first forecast slot: 2026-01-01T12:00:00Z. Fixed so tests can compare times. */
export const FORECAST_START = 1_767_268_800;
const OBSERVED_AT = FORECAST_START - 600;
const THREE_HOURS = 3 * 3600;

const INVALID_KEY = {
  cod: 401,
  message: 'Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.',
};

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** OpenWeatherMap's three unit systems: Kelvin by default, °C with metric, °F with imperial. */
function temperature(celsius: number, units: string | null): number {
  if (units === 'metric') return round2(celsius);
  if (units === 'imperial') return round2((celsius * 9) / 5 + 32);
  return round2(celsius + 273.15);
}

function speed(metersPerSecond: number, units: string | null): number {
  return units === 'imperial' ? round2(metersPerSecond * 2.23694) : round2(metersPerSecond);
}

const condition = (description: string) => ({
  id: 500,
  main: description.split(' ').at(-1) ?? description,
  description,
  icon: '10d',
});

function currentPayload(city: FakeCity, id: number, units: string | null) {
  return {
    coord: { lon: -0.1257, lat: 51.5085 },
    weather: [condition(city.description)],
    base: 'stations',
    main: {
      temp: temperature(city.temp, units),
      feels_like: temperature(city.feelsLike, units),
      temp_min: temperature(city.temp - 1, units),
      temp_max: temperature(city.temp + 1, units),
      pressure: 1012,
      humidity: city.humidity,
      sea_level: 1012,
      grnd_level: 1008,
    },
    visibility: 10000,
    wind: {
      speed: speed(city.windSpeed, units),
      deg: 240,
      gust: speed(city.windSpeed * 1.5, units),
    },
    clouds: { all: 75 },
    dt: OBSERVED_AT,
    sys: { type: 2, id: 2075535, country: city.country, sunrise: 1767254400, sunset: 1767283200 },
    timezone: 0,
    id,
    name: city.name,
    cod: 200,
    ...(city.padBytes ? { padding: 'x'.repeat(city.padBytes) } : {}),
  };
}

function forecastPayload(city: FakeCity, id: number, units: string | null, cnt: number) {
  const slots = (
    city.forecast ??
    Array.from({ length: 40 }, (_, i) => ({
      temp: city.temp + Math.sin(i / 2),
      description: city.description,
    }))
  ).slice(0, Math.min(cnt, 40));
  return {
    cod: '200',
    message: 0,
    cnt: slots.length,
    list: slots.map((slot, i) => {
      const dt = FORECAST_START + i * THREE_HOURS;
      return {
        dt,
        main: {
          temp: temperature(slot.temp, units),
          feels_like: temperature(slot.temp - 1, units),
          temp_min: temperature(slot.temp, units),
          temp_max: temperature(slot.temp, units),
          pressure: 1012,
          sea_level: 1012,
          grnd_level: 1008,
          humidity: city.humidity,
          temp_kf: 0,
        },
        weather: [condition(slot.description)],
        clouds: { all: 75 },
        wind: { speed: speed(city.windSpeed, units), deg: 240, gust: speed(city.windSpeed, units) },
        visibility: 10000,
        pop: 0.2,
        sys: { pod: 'd' },
        dt_txt: new Date(dt * 1000).toISOString().slice(0, 19).replace('T', ' '),
      };
    }),
    city: {
      id,
      name: city.name,
      coord: { lat: 51.5085, lon: -0.1257 },
      country: city.country,
      population: 1000000,
      timezone: 0,
      sunrise: 1767254400,
      sunset: 1767283200,
    },
    ...(city.padBytes ? { padding: 'x'.repeat(city.padBytes) } : {}),
  };
}

/**
 * An OpenWeatherMap stand-in on 127.0.0.1 (random port) serving `/data/2.5/weather` and
 * `/data/2.5/forecast`. Like the API it answers 401 `{"cod":401,…}` to a missing or wrong
 * `appid`, and 404 `{"cod":"404","message":"city not found"}` to a `q` it does not know.
 * `q` matches a city's name case-insensitively, with or without `,CC` after it.
 */
export async function startFakeOpenWeather(options: {
  apiKey: string;
  cities: FakeCity[];
}): Promise<FakeOpenWeather> {
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    });

    if (url.searchParams.get('appid') !== options.apiKey) return send(res, 401, INVALID_KEY);
    const endpoint = url.pathname;
    if (req.method !== 'GET' || !['/data/2.5/weather', '/data/2.5/forecast'].includes(endpoint)) {
      return send(res, 404, { cod: '404', message: 'Internal error' });
    }
    const q = url.searchParams.get('q');
    if (!q) return send(res, 400, { cod: '400', message: 'Nothing to geocode' });
    const wanted = q.split(',')[0]?.trim().toLowerCase();
    const index = options.cities.findIndex((c) => c.name.toLowerCase() === wanted);
    const city = options.cities[index];
    if (!city) return send(res, 404, { cod: '404', message: 'city not found' });

    const units = url.searchParams.get('units');
    const id = 2_643_743 + index;
    if (endpoint === '/data/2.5/weather') return send(res, 200, currentPayload(city, id, units));
    const cnt = Number(url.searchParams.get('cnt') ?? 40);
    send(res, 200, forecastPayload(city, id, units, Number.isInteger(cnt) && cnt > 0 ? cnt : 40));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
