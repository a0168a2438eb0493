/**
 * github: pull requests, issues and comments over the GitHub REST API, plus the hidden handlers
 * the gateway calls (on_webhook, on_schedule, deliver). stdio; one McpServer per connection via
 * serveStdio.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { startTracing } from '@switchboard/sdk/tracing';
import { loadSettings } from './config.ts';
import { PullRequestDocuments } from './documents.ts';
import { GitHubApi } from './github-api.ts';
import { OpenPulls } from './panels.ts';
import { registerTools } from './tools.ts';

let settings: ReturnType<typeof loadSettings>;
try {
  settings = loadSettings(process.env);
} catch (error) {
  console.error(`github: ${(error as Error).message}`);
  process.exit(1);
}
// Off (and nothing of OpenTelemetry loaded) unless the gateway passes an OTLP endpoint.
await startTracing('github');
const api = new GitHubApi(settings.GITHUB_API_URL, settings.GITHUB_TOKEN);
/** One per process: every connection (the gateway's and agents') sees the same PRs. */
const openPulls = new OpenPulls();
/** PR descriptions into the gateway's documents (SWITCHBOARD_URL and SWITCHBOARD_API_KEY). */
const documents = new PullRequestDocuments(process.env);

serveStdio(
  () => {
    const server = new McpServer({ name: 'switchboard-github', version: '0.1.0' });
    registerTools(server, api, settings.GITHUB_TRIAGE_REPOS, openPulls, documents);
    return server;
  },
  { onerror: (error) => console.error(`github: ${error.message}`) },
);
