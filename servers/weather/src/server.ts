/**
 * weather: current weather and a 24-hour forecast from OpenWeatherMap. stdio; one McpServer per
 * connection via serveStdio. Without WEATHER_API_KEY it exits 1 at start rather than serve
 * tools that can only fail.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { loadSettings } from './config.ts';
import { OpenWeatherApi } from './openweather-api.ts';
import { registerTools } from './tools.ts';

let settings: ReturnType<typeof loadSettings>;
try {
  settings = loadSettings(process.env);
} catch (error) {
  console.error(`weather: ${(error as Error).message}`);
  process.exit(1);
}
const api = new OpenWeatherApi(settings.WEATHER_API_URL, settings.WEATHER_API_KEY);

serveStdio(
  () => {
    const server = new McpServer({ name: 'switchboard-weather', version: '0.1.0' });
    registerTools(server, api);
    return server;
  },
  { onerror: (error) => console.error(`weather: ${error.message}`) },
);
