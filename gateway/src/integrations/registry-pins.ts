import type { Tool } from '@modelcontextprotocol/client';
import type { Policy } from '@switchboard/policy';
import { SwitchboardError } from '../errors.ts';
import type { Integration, RegistryDeps } from './integration.ts';
import {
  approvePending,
  DEFAULT_TOOL_PINNING,
  evaluatePins,
  refreshPins,
  samePending,
  TOOL_PINS_CHANNEL,
} from './tool-pinning.ts';

/**
 * The registry's side of tool pinning (tool-pinning.ts): each listing of an integration's tools
 * held against their pins, an operator's approval, and approvals heard from other gateways.
 */
export class RegistryPins {
  constructor(
    private readonly deps: Pick<RegistryDeps, 'sql' | 'log' | 'bus'>,
    private readonly registry: {
      get(name: string): Integration | undefined;
      currentPolicy(): Policy | undefined;
      /** Tells the registry's change listeners (the MCP endpoint sends list_changed). */
      changed(name: string): void;
    },
  ) {}

  /**
   * Holds `tools` (as just listed: at the probe, or when the MCP catalog re-read them) against
   * their pins, under the integration's policy `toolPinning`; the ones awaiting approval are
   * hidden from then on (mcp/view.ts hiddenTools). A database error is thrown: the listing
   * fails rather than publish unchecked tools.
   */
  async pinTools(item: Integration, tools: readonly Tool[]): Promise<void> {
    const policy = this.registry.currentPolicy()?.integrations[item.name];
    const mode = policy?.toolPinning ?? DEFAULT_TOOL_PINNING;
    const notPinned = new Set(item.manifest?.tools.hidden ?? []);
    const { sql, log } = this.deps;
    item.toolPins = await evaluatePins(sql, log, item.name, tools, mode, notPinned);
  }

  /**
   * An operator approves the current definitions of an integration's pending tools (all, or
   * `tools`): pinned, shown again here at once and on every other gateway through the bus.
   */
  async approveTools(name: string, tools: string[] | undefined, approvedBy: string) {
    const item = this.registry.get(name);
    const state = item?.toolPins;
    if (!item || !state || item.state !== 'ready') {
      throw new SwitchboardError(
        'invalid_request',
        `integration ${name} has no listed tools to approve (state ${item?.state ?? 'unknown'})`,
      );
    }
    const approved = await approvePending(this.deps.sql, name, state, tools, approvedBy);
    await this.pinsChanged(name);
    await this.deps.bus?.publish(TOOL_PINS_CHANNEL, name);
    return approved;
  }

  /**
   * Follows approvals made by any gateway on this database (the bus); the returned function
   * stops. Without a bus only this process's approvals apply (approveTools refreshes itself).
   */
  async follow(): Promise<() => Promise<void>> {
    if (!this.deps.bus) return async () => {};
    return this.deps.bus.subscribe(TOOL_PINS_CHANNEL, (name) => {
      this.pinsChanged(name).catch((error: unknown) =>
        this.deps.log.warn({ integration: name, err: error }, 'tool pins not refreshed'),
      );
    });
  }

  /** Pins of `name` changed: its pending tools are read again, agents told if they differ. */
  private async pinsChanged(name: string): Promise<void> {
    const item = this.registry.get(name);
    const state = item?.toolPins;
    if (!item || !state) return;
    const next = await refreshPins(this.deps.sql, name, state);
    if (item.toolPins !== state) return; // listed again meanwhile: that state is newer
    item.toolPins = next;
    if (!samePending(state, next)) this.registry.changed(name);
  }
}
