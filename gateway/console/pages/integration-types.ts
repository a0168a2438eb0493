/** The answers of GET /api/v1/integrations and /integrations/:name, as the console reads them. */

export interface Reason {
  code: string;
  message: string;
}

export interface IntegrationSummary {
  name: string;
  version: string | null;
  transport: string | null;
  dir: string;
  state: string;
  reasons: Reason[];
  lastError: string | null;
  tools: string[];
  hiddenTools: string[];
  changed: boolean;
  pendingTools: string[];
  toolPinning: string | null;
  /** How its programs' network is held to the egress proxy (issue 21); null before it is planned. */
  egress: 'isolated' | 'advisory' | 'off' | null;
}

export interface SettingView {
  key: string;
  secret: boolean;
  required: boolean;
  /** database, environment, policy, default, auto; null when unset. */
  source: string | null;
  /** The value of a plain setting; '******' for a secret or an environment value; null when unset. */
  value: string | null;
  description: string | null;
}

export interface IntegrationDetail extends IntegrationSummary {
  description: string | null;
  toolDetails: Array<{ name: string; description?: string; hidden: boolean }>;
  settings: SettingView[];
  webhooks: Array<{
    name: string;
    url: string;
    scheme: string;
    secretSetting: string | null;
    mode: string;
  }>;
  schedules: Array<{
    name: string;
    cron: string;
    handler: string;
    armed: boolean;
    nextFireAt: string | null;
  }>;
}
