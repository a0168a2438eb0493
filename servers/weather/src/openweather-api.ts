import { egressFetch } from '@switchboard/sdk/egress';
import * as z from 'zod';

/** An agent waits on every call; 10 s is long enough for a slow API and short enough to give up. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Through the gateway's egress proxy (HTTPS_PROXY), which allows api.openweathermap.org only. */
const outbound = egressFetch();
/**
 * Current weather is ~0.5 KB and 8 forecast entries ~4 KB; 256 KiB leaves room for API growth
 * while a misbehaving proxy or server cannot make the process buffer an unbounded body.
 */
const MAX_RESPONSE_BYTES = 256 * 1024;
/** 8 entries of 3 hours: the next 24 hours. */
const FORECAST_ENTRIES = 8;

export const Units = z.enum(['metric', 'imperial']);
export type Units = z.infer<typeof Units>;

/** Only the fields used; OpenWeatherMap sends many more (coord, visibility, clouds, …). */
const WeatherResponse = z.object({
  name: z.string(),
  dt: z.number(),
  sys: z.object({ country: z.string().optional() }),
  weather: z.array(z.object({ description: z.string() })),
  main: z.object({ temp: z.number(), feels_like: z.number(), humidity: z.number() }),
  wind: z.object({ speed: z.number() }),
});

const ForecastResponse = z.object({
  list: z.array(
    z.object({
      dt: z.number(),
      main: z.object({ temp: z.number() }),
      weather: z.array(z.object({ description: z.string() })),
    }),
  ),
  city: z.object({ name: z.string(), country: z.string().optional() }),
});

/** The tools' structuredContent, also their outputSchema. */
export const CurrentWeather = z.object({
  city: z.string(),
  country: z.string().nullable(),
  description: z.string(),
  temperature: z.number(),
  feelsLike: z.number(),
  humidity: z.number().describe('percent'),
  windSpeed: z.number().describe('m/s (metric) or mph (imperial)'),
  units: Units,
  observedAt: z.string().describe('ISO 8601, UTC'),
});
export type CurrentWeather = z.infer<typeof CurrentWeather>;

export const Forecast = z.object({
  city: z.string(),
  country: z.string().nullable(),
  units: Units,
  entries: z.array(
    z.object({
      time: z.string().describe('ISO 8601, UTC'),
      temperature: z.number(),
      description: z.string(),
    }),
  ),
});
export type Forecast = z.infer<typeof Forecast>;

/** A failed OpenWeatherMap call; `status` is the HTTP status, or 0 when no response arrived. */
export class OpenWeatherError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const ErrorBody = z.object({ message: z.string() });

const isoTime = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export class OpenWeatherApi {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async current(city: string, units: Units): Promise<CurrentWeather> {
    const body = await this.get('/data/2.5/weather', city, { units });
    const w = this.parse(WeatherResponse, body);
    return {
      city: w.name,
      country: w.sys.country ?? null,
      description: w.weather[0]?.description ?? 'unknown',
      temperature: w.main.temp,
      feelsLike: w.main.feels_like,
      humidity: w.main.humidity,
      windSpeed: w.wind.speed,
      units,
      observedAt: isoTime(w.dt),
    };
  }

  async forecast(city: string, units: Units): Promise<Forecast> {
    const body = await this.get('/data/2.5/forecast', city, {
      units,
      cnt: String(FORECAST_ENTRIES),
    });
    const f = this.parse(ForecastResponse, body);
    return {
      city: f.city.name,
      country: f.city.country ?? null,
      units,
      entries: f.list.map((entry) => ({
        time: isoTime(entry.dt),
        temperature: entry.main.temp,
        description: entry.weather[0]?.description ?? 'unknown',
      })),
    };
  }

  private parse<T>(schema: z.ZodType<T>, body: unknown): T {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const fields = parsed.error.issues.map((i) => i.path.join('.') || '(body)');
    throw new OpenWeatherError(
      `OpenWeatherMap answered in an unexpected shape (${[...new Set(fields)].join(', ')})`,
      200,
    );
  }

  /**
   * GET `path?q=<city>&…&appid=<key>`. The city travels in the query string (URLSearchParams
   * encodes it), so no input can change the path or add parameters.
   */
  private async get(path: string, city: string, params: Record<string, string>): Promise<unknown> {
    const query = new URLSearchParams({ q: city, ...params, appid: this.apiKey });
    let response: Response;
    let text: string;
    try {
      response = await outbound(`${this.baseUrl}${path}?${query}`, {
        headers: { accept: 'application/json', 'user-agent': 'switchboard-weather-integration' },
        // A redirect could lead to a host the policy's outboundHosts never granted.
        redirect: 'error',
        // Also bounds reading the body: the stream aborts when the signal fires.
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await readCapped(response, MAX_RESPONSE_BYTES);
    } catch (error) {
      if (error instanceof OpenWeatherError) throw error;
      throw new OpenWeatherError(
        this.redact(`OpenWeatherMap GET ${path} failed: ${why(error)}`),
        0,
      );
    }

    if (response.status === 401) {
      throw new OpenWeatherError('OpenWeatherMap rejected WEATHER_API_KEY (401)', 401);
    }
    if (response.status === 404) throw new OpenWeatherError(`no such city: ${city}`, 404);
    if (!response.ok) {
      // Error bodies are `{"cod": …, "message": …}`; 200 characters are enough to say why.
      const detail = ErrorBody.safeParse(safeJson(text));
      const message = (detail.success ? detail.data.message : text).slice(0, 200);
      throw new OpenWeatherError(
        this.redact(`OpenWeatherMap GET ${path} → ${response.status}: ${message}`),
        response.status,
      );
    }
    const body = safeJson(text);
    if (body === undefined) {
      throw new OpenWeatherError(`OpenWeatherMap GET ${path} answered with invalid JSON`, 200);
    }
    return body;
  }

  /** The key is in every request URL; no message built from a response or error may carry it. */
  private redact(text: string): string {
    return text.split(this.apiKey).join('[WEATHER_API_KEY]');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch's own message is "fetch failed"; the cause says what (refused, DNS, redirect). */
function why(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  }
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Reads at most `limit` bytes of the body, then gives up on the rest. */
async function readCapped(response: Response, limit: number): Promise<string> {
  const tooLarge = () =>
    new OpenWeatherError(
      `OpenWeatherMap answered with more than ${limit} bytes; refused`,
      response.status,
    );
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
