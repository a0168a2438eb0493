/**
 * Tool pinning against rug pulls (issue 15): an approved tool whose definition changes (at a
 * restart, or on the upstream's tools/list_changed) is hidden from agents until an operator
 * approves the new definition. What counts as the definition and how it is hashed:
 * tool-definition.ts; the rows: tool-pins-store.ts (migrations/0010_tool_pins.sql).
 *
 * Policy `toolPinning` per integration:
 * - `first-sight` (the default): a tool never seen before is pinned as it is first listed. An
 *   existing deployment is protected from its next upgrade on without any operator work; the
 *   price: a server that publishes a new tool name is trusted with it (a rename dodges the pin,
 *   the renamed tool is then pinned as first seen).
 * - `operator`: a tool without a pin is hidden too, until approved: nothing an operator has not
 *   seen reaches an agent, renames included. Costs an approval per new tool.
 * - `off`: nothing is pinned or hidden.
 * Tools the manifest hides (handlers only the gateway calls) are not pinned: no agent reads them.
 */
import type { Tool } from '@modelcontextprotocol/client';
import type { Sql } from '../db/connect.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { unifiedDiff } from './line-diff.ts';
import {
  definitionHash,
  definitionLines,
  type PinnedDefinition,
  pinnedDefinition,
} from './tool-definition.ts';
import {
  loadPins,
  type NewPin,
  pruneUnlisted,
  recordApproval,
  recordFirstSight,
  type ToolPin,
} from './tool-pins-store.ts';

export type ToolPinningMode = 'first-sight' | 'operator' | 'off';
export const DEFAULT_TOOL_PINNING: ToolPinningMode = 'first-sight';

/** The bus channel on which an approval is announced to every gateway (payload: integration). */
export const TOOL_PINS_CHANNEL = 'switchboard_tool_pins';

/** A listed tool hidden until an operator approves it. */
export interface PendingTool {
  tool: string;
  /** `new`: no pin (policy operator); `changed`: its hash differs from its pin. */
  reason: 'new' | 'changed';
  hash: string;
  definition: PinnedDefinition;
  /** The pin it differs from (reason `changed`). */
  approved?: ToolPin;
}

/** An integration's tools as last listed, against their pins. */
export interface ToolPinState {
  mode: ToolPinningMode;
  /** Every pinned-kind tool as listed: its hash and definition. */
  current: Map<string, NewPin>;
  /** In listing order. */
  pending: Map<string, PendingTool>;
}

function pendingOf(
  mode: ToolPinningMode,
  current: Map<string, NewPin>,
  pins: Map<string, ToolPin>,
): Map<string, PendingTool> {
  const pending = new Map<string, PendingTool>();
  if (mode === 'off') return pending;
  for (const [tool, now] of current) {
    const pin = pins.get(tool);
    if (!pin) {
      if (mode === 'operator') pending.set(tool, { reason: 'new', ...now });
    } else if (pin.hash !== now.hash) {
      pending.set(tool, { reason: 'changed', ...now, approved: pin });
    }
  }
  return pending;
}

/** Whether two pending sets hide the same tools for the same definitions. */
export function samePending(a: ToolPinState | undefined, b: ToolPinState | undefined): boolean {
  const x = a?.pending ?? new Map<string, PendingTool>();
  const y = b?.pending ?? new Map<string, PendingTool>();
  if (x.size !== y.size) return false;
  for (const [tool, p] of x) if (y.get(tool)?.hash !== p.hash) return false;
  return true;
}

/**
 * The tools' state against their pins; under `first-sight` unpinned tools are pinned first.
 * A database error is thrown (the caller fails closed: the tools are not published).
 */
export async function evaluatePins(
  sql: Sql,
  log: Logger,
  integration: string,
  tools: readonly Tool[],
  mode: ToolPinningMode,
  notPinned: ReadonlySet<string>,
): Promise<ToolPinState> {
  const current = new Map<string, NewPin>();
  if (mode === 'off') return { mode, current, pending: new Map() };
  for (const tool of tools) {
    if (notPinned.has(tool.name)) continue;
    const definition = pinnedDefinition(tool);
    current.set(tool.name, { tool: tool.name, hash: definitionHash(definition), definition });
  }
  let pins = await loadPins(sql, integration);
  const unseen = [...current.values()].filter((p) => !pins.has(p.tool));
  if (mode === 'first-sight' && unseen.length > 0) {
    await recordFirstSight(sql, integration, unseen);
    log.info(
      { integration, tools: unseen.length },
      'tool definitions pinned at first sight (policy toolPinning: first-sight)',
    );
    pins = await loadPins(sql, integration);
  }
  if (unseen.length > 0 || pins.size > current.size) {
    await pruneUnlisted(sql, integration, [...current.keys()]);
  }
  const pending = pendingOf(mode, current, pins);
  if (pending.size > 0) {
    const names = [...pending.values()];
    log.warn(
      {
        integration,
        changed: names
          .filter((p) => p.reason === 'changed')
          .map((p) => p.tool)
          .slice(0, 20),
        unapproved: names
          .filter((p) => p.reason === 'new')
          .map((p) => p.tool)
          .slice(0, 20),
        count: pending.size,
      },
      `tools hidden until an operator approves them (switchboard integrations tools-diff ${integration})`,
    );
  }
  return { mode, current, pending };
}

/** The state again after pins changed (an approval here or on another gateway). */
export async function refreshPins(
  sql: Sql,
  integration: string,
  state: ToolPinState,
): Promise<ToolPinState> {
  if (state.mode === 'off') return state;
  const pins = await loadPins(sql, integration);
  return { ...state, pending: pendingOf(state.mode, state.current, pins) };
}

/**
 * Pins the current definitions of `tools` (all pending ones when not given) for `approvedBy`.
 * Only a pending tool may be named: the approval is of a definition the operator could review.
 */
export async function approvePending(
  sql: Sql,
  integration: string,
  state: ToolPinState,
  tools: string[] | undefined,
  approvedBy: string,
): Promise<Array<{ tool: string; hash: string }>> {
  const names = tools ?? [...state.pending.keys()];
  const notPending = names.filter((t) => !state.pending.has(t));
  if (notPending.length > 0) {
    const waiting = [...state.pending.keys()];
    throw new SwitchboardError(
      'invalid_request',
      `integration ${integration}: ${notPending
        .slice(0, 5)
        .map((t) => JSON.stringify(t))
        .join(', ')} ${notPending.length === 1 ? 'does' : 'do'} not await approval; waiting: ${
        waiting.length === 0 ? 'none' : waiting.slice(0, 20).join(', ')
      }`,
      { details: { notPending: notPending.slice(0, 20), pending: waiting.slice(0, 100) } },
    );
  }
  const pins = [...new Set(names)].map((t) => {
    const p = state.pending.get(t)!;
    return { tool: p.tool, hash: p.hash, definition: p.definition };
  });
  await recordApproval(sql, integration, pins, approvedBy);
  return pins.map((p) => ({ tool: p.tool, hash: p.hash }));
}

/** A pending tool for the API: which, why, and the unified diff of its definition. */
export function describePending(pending: PendingTool) {
  const now = definitionLines(pending.definition);
  return {
    tool: pending.tool,
    reason: pending.reason,
    hash: pending.hash,
    approvedHash: pending.approved?.hash ?? null,
    approvedBy: pending.approved?.approvedBy ?? null,
    approvedAt: pending.approved?.approvedAt ?? null,
    diff: unifiedDiff(pending.approved ? definitionLines(pending.approved.definition) : [], now, {
      old: pending.approved
        ? `${pending.tool} (approved by ${pending.approved.approvedBy} at ${pending.approved.approvedAt})`
        : '/dev/null',
      new: `${pending.tool} (listed now)`,
    }),
  };
}
