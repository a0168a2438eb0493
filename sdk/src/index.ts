/**
 * @switchboard/sdk — for integration authors: the sidecar manifest schema, the handler
 * contracts, and the error format shared with the operator policy. It never imports gateway
 * code.
 */
export { cronProblem, isCron } from './cron.ts';
export {
  describeFound,
  errorsFromZod,
  formatManifestErrors,
  formatPath,
  type ManifestError,
  problem,
} from './errors.ts';
export {
  cron as cronField,
  HTTP_URL_EXPECTED,
  hostPort,
  httpUrl,
  INTEGRATION_NAME,
  integrationName,
  isHostPort,
  isHttpUrl,
  isNotObject,
  LOCAL_NAME,
  localName,
  SETTING_KEY,
  settingKey,
  staysInside,
  strictObject,
  TOOL_NAME,
  TOOL_PATTERN,
  text,
  toolName,
  toolPattern,
} from './fields.ts';
export {
  type GatewayTokenClaims,
  GatewayTokenError,
  type GatewayTokenOptions,
  gatewayTokenVerifier,
} from './gateway-token.ts';
export {
  type ApprovalRequestInput,
  approvalRequestInputSchema,
  type DispatcherInput,
  type DispatchTarget,
  dispatcherInputSchema,
  dispatchTargetSchema,
  type Execution,
  executionSchema,
  type HandlerResult,
  type HandlerResultInput,
  handlerResultSchema,
  MAX_HOOK_EVENT_DATA_BYTES,
  type ScheduleInput,
  SECRET_WEBHOOK_HEADERS,
  scheduleInputSchema,
  type TaskEventHookInput,
  type Trigger,
  type TriggerInput,
  taskEventHookInputSchema,
  triggerSchema,
  type WebhookInput,
  type WebhookResponse,
  webhookInputSchema,
  webhookResponseSchema,
} from './handlers.ts';
export { manifestJsonSchema, renderManifestJsonSchema } from './json-schema.ts';
export { loadManifest, type ManifestResult, parseManifest } from './load.ts';
export {
  type Manifest,
  type ManifestDispatcher,
  type ManifestEventHook,
  type ManifestInput,
  type ManifestPanel,
  type ManifestProcess,
  type ManifestSchedule,
  type ManifestServer,
  type ManifestSetting,
  type ManifestWebhook,
  manifestSchema,
} from './manifest.ts';
export type { RuleViolation } from './manifest-rules.ts';
export {
  BUILT_IN_DISPATCH_TYPES,
  CAPABILITIES,
  type Capability,
  capabilitySchema,
  DEFAULT_TIMEOUT_MS,
  HOOK_EVENT_TYPES,
  HOOK_EVENT_WILDCARD,
  hookEventTypes,
  MANIFEST_API_VERSION,
  MANIFEST_FILE,
  MAX_EVENT_HOOKS,
  MAX_WEBHOOK_BODY_BYTES,
  SETTING_AUTO_VALUES,
  SIGNATURE_SCHEMES,
  type SignatureScheme,
} from './manifest-shape.ts';
export {
  type KvPanelData,
  kvPanelDataSchema,
  PANEL_DATA_SCHEMAS,
  PANEL_LIMITS,
  PANEL_REFRESH,
  PANEL_VIEWS,
  type PanelData,
  type PanelInput,
  type PanelView,
  panelInputSchema,
  panelRefreshMs,
  type TablePanelData,
  type TimeseriesPanelData,
  tablePanelDataSchema,
  timeseriesPanelDataSchema,
} from './panels.ts';
export {
  HandlerResultError,
  handlerResult,
  parseHandlerResult,
  readTaskContext,
  TASK_META_KEY,
  type TaskContext,
  trigger,
} from './results.ts';
export { SETTING_ENV_PREFIX, settingEnvName } from './setting-env.ts';
export {
  fillPlaceholders,
  placeholderProblem,
  placeholdersOf,
  templateCanBe,
} from './url-template.ts';
export { type Validated, validate } from './validate.ts';
export { type SignedScheme, type SignOptions, signWebhook } from './webhook-signing.ts';
export { parseYaml, readYamlFile, readYamlFileSync, validateYaml } from './yaml.ts';
