/**
 * Every error code the gateway answers, logs or exits with, and the facts that follow from the
 * code alone (the model is the MCP SDK's SdkErrorCode: one closed set of stable strings, with the
 * JSON-RPC number beside it the way its ProtocolErrorCode holds them). A throw site names the
 * code and writes the message; it does not choose the status: two failures that need different
 * statuses or retry rules are two codes. docs/operator-guide.md "Error codes" lists these same
 * codes with when each happens (test/unit/error-codes.test.ts keeps the two equal).
 *
 * - status: the HTTP status of the `{"error": {"code", "message"}}` answer. Codes that no HTTP
 *   route answers (the CLI's, boot's, the MCP endpoint's) still have one: a SwitchboardError
 *   always has a status (500 when nothing better applies, as before).
 * - jsonRpc: the JSON-RPC error code when the failure reaches an MCP client (with `data.code`
 *   set to the code); -32603 (InternalError) unless the request itself is at fault.
 * - retryable: whether a background job that failed with it (a webhook delivery, an outbox
 *   entry) is tried again later. Defaults to "not a 4xx": a refusal does not get better by
 *   waiting, an outage may.
 * - exit: the exit code of the CLI (and of boot, the reference agent) that stops on it: 2 when
 *   the input is wrong (running it again as it is will not help), else 1 (EXIT in errors.ts).
 */
interface ErrorFacts {
  status: number;
  jsonRpc: number;
  retryable: boolean;
  exit: 1 | 2;
}

/**
 * The JSON-RPC numbers, as the SDK's ProtocolErrorCode has them (the unit test compares): not
 * imported from it, so that every CLI command, which loads this table, does not load the SDK.
 */
export const JSON_RPC = {
  InvalidParams: -32602,
  InternalError: -32603,
  /** JSON-RPC's range for implementation-defined server errors; MCP defines no "busy" code. */
  ServerError: -32000,
} as const;
const { InvalidParams, InternalError, ServerError } = JSON_RPC;

const facts = (
  status: number,
  options: { jsonRpc?: number; retryable?: boolean; exit?: 1 | 2 } = {},
): ErrorFacts => ({
  status,
  jsonRpc: options.jsonRpc ?? InternalError,
  retryable: options.retryable ?? !(status >= 400 && status < 500),
  exit: options.exit ?? 1,
});

export const ERRORS = {
  // A request the gateway cannot take as it is (HTTP API, webhooks, MCP endpoint).
  bad_request: facts(400),
  invalid_request: facts(400),
  invalid_json: facts(400),
  request_aborted: facts(400),
  aborted: facts(400),
  payload_too_large: facts(413),
  unsupported_encoding: facts(415),
  method_not_allowed: facts(405),
  not_found: facts(404),
  rate_limited: facts(429),
  // Credentials.
  unauthorized: facts(401),
  invalid_token: facts(401),
  forbidden: facts(403),
  insufficient_scope: facts(403),
  // The gateway's own state.
  internal: facts(500),
  starting: facts(503),
  shutting_down: facts(503),
  // Load shedding (http/admission.ts): retried, by a webhook's sender or an agent, after Retry-After.
  overloaded: facts(503, { jsonRpc: ServerError }),
  database_unavailable: facts(503),
  policy_invalid: facts(503),
  no_signing_key: facts(503),
  // Tasks, deliveries, outbox, settings (API).
  task_ended: facts(409),
  task_not_running: facts(409),
  task_expired: facts(409),
  profile_missing: facts(409),
  replay_ids_taken: facts(409),
  outbox_not_dead: facts(409),
  setting_unknown: facts(400),
  profile_secret_unknown: facts(400),
  profile_secret_invalid: facts(400),
  // Inbound webhooks (/hooks/...).
  webhook_unknown: facts(404),
  integration_unavailable: facts(503),
  signature_missing: facts(401),
  signature_invalid: facts(401),
  timestamp_stale: facts(401),
  delivery_id_invalid: facts(401),
  delivery_id_missing: facts(400),
  secret_missing: facts(503),
  // An integration's hidden handler tool (on_webhook, on_schedule, deliver), called in the
  // background: the status is never answered, `retryable` decides the job's next attempt.
  handler_unavailable: facts(502, { retryable: true }),
  integration_unknown: facts(502, { retryable: false }),
  handler_failed: facts(502, { retryable: true }),
  handler_error: facts(502, { retryable: true }),
  handler_result_invalid: facts(502, { retryable: false }),
  endpoint_unknown: facts(502, { retryable: false }),
  // Outbound dispatch (the outbox's webhook POSTs and dispatchers).
  ssrf_refused: facts(400),
  url_invalid: facts(400),
  timeout: facts(504, { retryable: true }),
  response_too_large: facts(502, { retryable: false }),
  too_many_redirects: facts(502, { retryable: false }),
  network: facts(502, { retryable: true }),
  dispatch_config_invalid: facts(400),
  dispatch_input_invalid: facts(400),
  dispatch_loop: facts(400),
  subscription_deleted: facts(400),
  // Upstream MCP servers, as the MCP endpoint answers them.
  arguments_too_deep: facts(400, { jsonRpc: InvalidParams }),
  too_many_in_flight: facts(429, { jsonRpc: ServerError }),
  upstream_unavailable: facts(502),
  // An integration whose policy isolates its network, on a machine that cannot (containment/netns.ts):
  // it is not started; waiting does not give the machine unshare or CAP_SYS_ADMIN.
  isolation_unavailable: facts(503, { retryable: false }),
  upstream_busy: facts(503),
  upstream_error: facts(502),
  upstream_timeout: facts(504),
  upstream_too_large: facts(502),
  cancelled: facts(500),
  hash_mismatch: facts(502),
  catalog_too_large: facts(500),
  // Guardrails on tool calls (guards/): answered to the agent as a tool error (isError result).
  guard_failed: facts(500, { retryable: false }),
  argument_rule_denied: facts(403),
  budget_exceeded: facts(429, { retryable: false }),
  approval_denied: facts(403),
  approval_expired: facts(403),
  approval_limit: facts(429, { retryable: false }),
  // Deciding an approval request (API, CLI): it was decided already, expired, or its task ended.
  approval_not_pending: facts(409),
  // Key-value storage (/api/v1/kv): a compare-and-set that lost, a namespace at its bounds
  // (507 Insufficient Storage: the request is fine, the namespace has no room for it).
  kv_version_conflict: facts(409),
  kv_quota_exceeded: facts(507, { retryable: false }),
  // MCP tasks (mcp-tasks/): too many open ones for the agent task; a run the gateway lost.
  mcp_task_limit: facts(429, { jsonRpc: ServerError, retryable: false }),
  mcp_task_interrupted: facts(500),
  // A 2025-era tasks/result whose task did not end within the call's bound (maxCallDuration).
  mcp_task_wait_timeout: facts(504, { jsonRpc: ServerError }),
  // Boot, the CLI and runners: shown as a message and an exit code, never answered over HTTP.
  config_invalid: facts(500, { exit: 2 }),
  usage: facts(400, { exit: 2 }),
  master_key_invalid: facts(500),
  secret_undecryptable: facts(500),
  migration_failed: facts(503),
  database_in_use: facts(503),
  gateway_unreachable: facts(500),
  api_error: facts(500),
  bundle_invalid: facts(500),
  profile_invalid: facts(500),
  profile_secret_missing: facts(500),
  // The reference agent (switchboard agent): its bundle or plan is wrong, or a step failed.
  agent_bundle_invalid: facts(500, { exit: 2 }),
  agent_plan_invalid: facts(500, { exit: 2 }),
  agent_step_failed: facts(500),
} as const satisfies Record<string, ErrorFacts>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes in table order, at run time (the OpenAPI enum, the docs check). */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERRORS, value);
