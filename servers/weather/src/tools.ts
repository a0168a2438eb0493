import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { CurrentWeather, Forecast, type OpenWeatherApi, Units } from './openweather-api.ts';

function ok(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

/** API and parse failures become isError results: the agent reads why, the server keeps going. */
async function guarded(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (error) {
    return { content: [{ type: 'text', text: (error as Error).message }], isError: true };
  }
}

const UNIT_LABELS = {
  metric: { temperature: '°C', speed: 'm/s' },
  imperial: { temperature: '°F', speed: 'mph' },
} as const;

const degrees = (value: number, units: Units) =>
  `${value.toFixed(1)} ${UNIT_LABELS[units].temperature}`;

const place = (city: string, country: string | null) => (country ? `${city}, ${country}` : city);

/** OpenWeatherMap accepts "City", "City,CC" or "City,State,CC"; the rest is its business. */
const City = z
  .string()
  .trim()
  .min(1, 'expected a city name')
  .max(200)
  .describe('City name, optionally with an ISO 3166 country code: "London" or "London,GB"');

const WeatherInput = z.object({ city: City, units: Units.default('metric') });

export function registerTools(server: McpServer, api: OpenWeatherApi): void {
  server.registerTool(
    'current_weather',
    {
      description: 'Current weather in a city: conditions, temperature, humidity, wind',
      inputSchema: WeatherInput,
      outputSchema: CurrentWeather,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ city, units }) =>
      guarded(async () => {
        const w = await api.current(city, units);
        return ok(
          `${place(w.city, w.country)}: ${w.description}, ${degrees(w.temperature, units)} ` +
            `(feels like ${degrees(w.feelsLike, units)}), humidity ${w.humidity}%, ` +
            `wind ${w.windSpeed} ${UNIT_LABELS[units].speed}`,
          w,
        );
      }),
  );

  server.registerTool(
    'forecast',
    {
      description: 'Forecast for the next 24 hours in a city, in 3-hour steps',
      inputSchema: WeatherInput,
      outputSchema: Forecast,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    ({ city, units }) =>
      guarded(async () => {
        const f = await api.forecast(city, units);
        const lines = f.entries.map(
          (e) =>
            `${e.time.slice(0, 16).replace('T', ' ')} UTC  ${degrees(e.temperature, units)}  ${e.description}`,
        );
        return ok([`Forecast for ${place(f.city, f.country)}:`, ...lines].join('\n'), f);
      }),
  );
}
