import { useState } from 'preact/hooks';
import { Code, CopyButton, ErrorBox } from '../components/ui.tsx';
import { describeError, post } from '../lib/api.ts';
import { timestamp } from '../lib/format.ts';

/**
 * The agent configs of a running task (the Access page): POST /api/v1/tasks/:id/config renders
 * each agent's file (api/task-config.ts) with a fresh set of the task's tokens, so a format is
 * asked for only when its tab is chosen, once.
 */

/** The answer of POST /tasks/:id/config (api/schemas.ts ConfigAnswer). */
interface ConfigAnswer {
  taskId: string;
  format: string;
  path: string;
  content: string;
  env: Record<string, string>;
  expiresAt: string;
}

/** The agents the console offers a config for (the API's formats, less its own json). */
const AGENTS = [
  { format: 'claude', name: 'Claude Code', use: 'claude --mcp-config .mcp.json' },
  { format: 'codex', name: 'Codex', use: 'codex (reads ~/.codex/config.toml)' },
  { format: 'cursor', name: 'Cursor', use: 'Cursor reads .cursor/mcp.json in the project' },
  { format: 'goose', name: 'goose', use: 'goose (reads ~/.config/goose/config.yaml)' },
] as const;

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A config answer's environment as shell exports (the file refers to these variables). */
function exportsOf(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
}

/** One agent's config for a running task: a tab per agent, fetched (and minted) when chosen. */
export function ConfigPanel(props: { taskId: string }) {
  const [format, setFormat] = useState<string | null>(null);
  const [configs, setConfigs] = useState<Record<string, ConfigAnswer>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const choose = async (next: string) => {
    setFormat(next);
    setError(null);
    if (configs[next]) return;
    setBusy(true);
    try {
      const answer = await post<ConfigAnswer>(`/tasks/${props.taskId}/config`, { format: next });
      setConfigs((c) => ({ ...c, [next]: answer }));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const agent = AGENTS.find((a) => a.format === format);
  const config = format ? configs[format] : undefined;
  const tabId = (f: string) => `config-tab-${props.taskId}-${f}`;
  return (
    <div class="config-panel">
      <p class="access-note">
        Pick the agent. Its config is issued with its own tokens for this task (in the environment
        block, shown here once; the file names them by variable). They stop working when the task
        ends.
      </p>
      <div role="tablist" aria-label="Agent config format" class="config-tabs">
        {AGENTS.map((a) => (
          <button
            key={a.format}
            type="button"
            role="tab"
            id={tabId(a.format)}
            aria-selected={format === a.format}
            aria-controls={`config-panel-${props.taskId}`}
            class={format === a.format ? 'selected' : undefined}
            onClick={() => void choose(a.format)}
          >
            {a.name}
          </button>
        ))}
      </div>
      {format && (
        <div
          role="tabpanel"
          id={`config-panel-${props.taskId}`}
          aria-labelledby={tabId(format)}
          class="config-body"
        >
          {busy && !config && <span class="loading">Issuing the config…</span>}
          <ErrorBox error={error} />
          {config && agent && (
            <>
              <p>
                Save as <code>{config.path}</code> · {agent.use} · tokens expire{' '}
                {timestamp(config.expiresAt)}
              </p>
              <Code>{config.content}</Code>
              <div class="button-row">
                <CopyButton text={config.content} label={`Copy ${agent.name} config`} />
              </div>
              <h4>Environment (tokens: shown once)</h4>
              <Code>{exportsOf(config.env)}</Code>
              <div class="button-row">
                <CopyButton text={exportsOf(config.env)} label="Copy environment" />
              </div>
            </>
          )}
        </div>
      )}
    </div>
  );
}
