import type { Tool } from '@modelcontextprotocol/client';
import { decide, loadPolicy, type Policy } from '@switchboard/policy';
import { formatManifestErrors, loadManifest } from '@switchboard/sdk';
import { admitIntegration } from './admission.ts';
import { discoverCandidates } from './discover.ts';
import { planEgress } from './egress-plan.ts';
import {
  type Found,
  type Integration,
  listToolsWithRetry,
  type RegistryDeps,
  startingItem,
  stopItem,
} from './integration.ts';
import { missingHandlers, type Reason } from './judge.ts';
import { buildProcesses, buildUpstreamPool, integrationEnv, withGatewayEnv } from './launch.ts';
import {
  integrationApiKey,
  retireProcessKey,
  retireProcessKeysOf,
  retireUnknownProcessKeys,
} from './process-key.ts';
import { RegistryPins } from './registry-pins.ts';
import { CatalogTooLarge } from './tool-catalog.ts';
import { FloodMeter } from './upstream/flood-meter.ts';

export type { Integration, IntegrationState, RegistryDeps } from './integration.ts';
export { PROCESS_STARTUP_MS } from './integration.ts';

/**
 * Every integration found in INTEGRATION_DIRS with its manifest, policy decision, settings,
 * upstream and tools. Each one is built on its own: a broken manifest, a refusal or a server
 * that will not start marks that integration and never stops the others or the gateway.
 */
export class IntegrationRegistry {
  private readonly items = new Map<string, Integration>();
  /** Servers being started and listed in the background after loadAll. */
  private readonly probes = new Set<Promise<void>>();
  private policy: Policy | undefined;
  private policyError: string | undefined;
  private readonly changeListeners = new Set<(name: string) => void>();

  private readonly pins: RegistryPins;

  constructor(private readonly deps: RegistryDeps) {
    this.pins = new RegistryPins(deps, {
      get: (name) => this.items.get(name),
      currentPolicy: () => this.policy,
      changed: (name) => this.changed(name),
    });
  }

  list(): Integration[] {
    return [...this.items.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Integration | undefined {
    return this.items.get(name);
  }

  /**
   * Calls `listener` with an integration's name whenever it is added, rebuilt, removed or changes
   * state (so its tools may have changed). Returns the function that stops the calls.
   */
  onChange(listener: (name: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(name: string): void {
    for (const listener of this.changeListeners) {
      try {
        listener(name);
      } catch (error) {
        this.deps.log.warn({ integration: name, err: error }, 'registry change listener failed');
      }
    }
  }

  /** The policy as last read (undefined while the file is invalid). */
  currentPolicy(): Policy | undefined {
    return this.policy;
  }

  /** Resolves once every integration started by loadAll is `ready` or `failed`. */
  async whenSettled(): Promise<void> {
    await Promise.all([...this.probes]);
  }

  /**
   * (Re)discover everything; integrations that disappeared are stopped. Returns once each one is
   * judged; servers are started and listed in the background (state `starting`), so one slow
   * server (30 s timeout by default) does not hold up the gateway's boot.
   */
  async loadAll(): Promise<void> {
    this.readPolicy();
    const candidates = await this.discover();
    await retireUnknownProcessKeys(this.deps.sql, this.deps.log, [...candidates.keys()]);
    for (const [name, item] of this.items) {
      if (!candidates.has(name)) {
        this.items.delete(name);
        this.changed(name);
        await stopItem(item);
      }
    }
    await Promise.all([...candidates].map(([name, c]) => this.build(name, c, false)));
  }

  /** Re-read one integration's manifest, policy and settings; restarts its upstream and waits for it. */
  async reload(name: string): Promise<Integration | undefined> {
    this.readPolicy();
    const found = (await this.discover()).get(name);
    if (!found) {
      const gone = this.items.get(name);
      this.items.delete(name);
      if (gone) this.changed(name);
      if (gone) await stopItem(gone);
      if (gone) await retireProcessKey(this.deps.sql, this.deps.log, name, this.deps.instance);
      return undefined;
    }
    return this.build(name, found, true);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.items.values()].map(async (item) => {
        await stopItem(item);
        if (item.state === 'ready' || item.state === 'starting') {
          item.state = 'stopped';
          this.changed(item.name);
        }
      }),
    );
    await retireProcessKeysOf(this.deps.sql, this.deps.log, this.deps.instance);
  }

  private readPolicy(): void {
    const loaded = loadPolicy(this.deps.config.policyPath);
    if (loaded.ok) {
      this.policy = loaded.policy;
      this.policyError = undefined;
    } else {
      this.policy = undefined;
      // "policy/default.yaml: tokens.maxTtl: found …, expected …": the file is named in each.
      this.policyError = formatManifestErrors(loaded.errors).split('\n').join('; ');
      this.deps.log.error(
        { policy: this.deps.config.policyPath, errors: loaded.errors },
        'policy file is invalid; every integration is refused',
      );
    }
  }

  /**
   * Candidates with their manifests read, keyed by manifest name: later roots override earlier
   * ones. A folder whose manifest does not parse is known by its folder name, so its errors show.
   */
  private async discover(): Promise<Map<string, Found>> {
    const candidates = discoverCandidates(this.deps.config.integrationDirs, this.deps.log);
    const loaded = await Promise.all(
      candidates.map(async (candidate) => ({
        candidate,
        manifest: await loadManifest(candidate.dir),
      })),
    );
    const byName = new Map<string, Found>();
    for (const { candidate, manifest } of loaded) {
      const name = manifest.ok ? manifest.manifest.name : candidate.folder;
      const earlier = byName.get(name);
      byName.set(name, {
        candidate,
        manifest,
        overrides: earlier ? [...earlier.overrides, earlier.candidate.dir] : [],
      });
    }
    return byName;
  }

  private async build(name: string, found: Found, waitForProbe: boolean): Promise<Integration> {
    const { candidate, overrides } = found;
    const previous = this.items.get(name);
    if (previous) await stopItem(previous);
    const item = startingItem(name, candidate.dir, overrides);
    this.items.set(name, item);
    this.changed(name);
    try {
      const loaded = found.manifest;
      if (!loaded.ok)
        return this.refuse(
          item,
          decide({ invalid: loaded.errors }, this.policyOrEmpty(), { resolvedSettings: {} }),
        );
      const manifest = loaded.manifest;
      item.manifest = manifest;
      if (!this.policy) {
        return this.refuse(item, {
          granted: false,
          reasons: [
            {
              code: 'policy_invalid',
              message: `the policy file cannot be used: ${this.policyError}`,
            },
          ],
        });
      }
      const { settings, folder, decision } = await admitIntegration(
        this.deps,
        this.policy,
        name,
        candidate.dir,
        manifest,
      );
      item.settings = settings;
      if (!decision.granted || folder.reasons.length > 0) {
        const refused = decision.granted ? [] : decision.reasons;
        return this.refuse(item, { granted: false, reasons: [...folder.reasons, ...refused] });
      }
      const egress = planEgress(name, decision, this.deps.egress?.());
      if (!egress.ok) return this.refuse(item, { granted: false, reasons: [egress.reason] });
      item.egress = egress.mode;
      item.egressGrant = egress.grant;
      const beforeSpawn = folder.pin?.verify.bind(folder.pin);
      const { log, gatewayUrl } = this.deps;
      const apiKey = await integrationApiKey(
        this.deps.sql,
        log,
        name,
        manifest,
        item.settings,
        this.deps.instance,
      );
      const settingsEnv = integrationEnv(this.deps.env, item.settings, name);
      // The stdio server calls the API (storage.kv, documents): it gets the URL and its key.
      const env = apiKey?.forServer
        ? withGatewayEnv(settingsEnv, name, { url: gatewayUrl(), apiKey: apiKey.key })
        : settingsEnv;
      const meter = new FloodMeter(name, log, (message) => this.flooding(item, message));
      const spawn = { beforeSpawn, meter, egress: egress.launch };
      item.upstream = buildUpstreamPool(
        name,
        candidate.dir,
        manifest,
        decision.serverUrl,
        env,
        log,
        this.deps.gatewayToken,
        { ...spawn, onRestart: () => this.deps.onUpstreamRestart?.(name) },
      );
      item.processes = buildProcesses(
        name,
        candidate.dir,
        manifest,
        item.settings,
        { env: this.deps.env, url: gatewayUrl(), apiKey: apiKey?.key },
        log,
        spawn,
      );
      for (const p of item.processes) p.start();
    } catch (error) {
      return this.fail(item, error);
    } finally {
      // Refused or failed before its processes started: no key of theirs may stay valid.
      if (item.state !== 'starting') {
        await retireProcessKey(this.deps.sql, this.deps.log, name, this.deps.instance);
      }
    }
    const probe = this.probe(item);
    if (waitForProbe) await probe;
    else {
      this.probes.add(probe);
      probe.finally(() => this.probes.delete(probe));
    }
    return item;
  }

  /**
   * Start the server and list its tools: `ready` once it answered, `failed` if it did not,
   * `refused` if a handler or hidden tool of the manifest is not among them (handler_missing)
   * or the catalog passes a bound of integrations/tool-catalog.ts (catalog_too_large).
   */
  private async probe(item: Integration): Promise<void> {
    const upstream = item.upstream!;
    const manifest = item.manifest!;
    const hidden = new Set(manifest.tools.hidden);
    try {
      const tools = await listToolsWithRetry(
        item,
        upstream,
        this.deps.log,
        () => this.items.get(item.name) === item,
      );
      if (this.items.get(item.name) !== item) return; // reloaded meanwhile
      const missing = missingHandlers(
        manifest,
        tools.map((t) => t.name),
      );
      if (missing.length > 0) return await this.refuseStarted(item, missing);
      await this.pinTools(item, tools);
      if (this.items.get(item.name) !== item) return; // reloaded meanwhile
      item.tools = tools.map((t) => ({
        name: t.name,
        description: t.description,
        hidden: hidden.has(t.name),
      }));
      item.state = 'ready';
      this.changed(item.name);
      const hiddenCount = item.tools.filter((t) => t.hidden).length;
      // The count agents see; handlers are hidden from them.
      this.deps.log.info(
        {
          integration: item.name,
          tools: item.tools.length - hiddenCount,
          hiddenTools: hiddenCount,
        },
        'integration ready',
      );
    } catch (error) {
      if (error instanceof CatalogTooLarge && this.items.get(item.name) === item) {
        await this.refuseCatalog(item, error);
        return;
      }
      this.fail(item, error);
    }
  }

  /** Tool pinning (registry-pins.ts): `tools` as just listed, held against their pins. */
  pinTools(item: Integration, tools: readonly Tool[]): Promise<void> {
    return this.pins.pinTools(item, tools);
  }

  /** An operator's approval of pending tools (all, or `tools`), on every gateway. */
  approveTools(name: string, tools: string[] | undefined, approvedBy: string) {
    return this.pins.approveTools(name, tools, approvedBy);
  }

  /** Follows tool approvals made on any gateway; the returned function stops. */
  followToolPins(): Promise<() => Promise<void>> {
    return this.pins.follow();
  }

  /**
   * A running integration whose tool catalog passed a bound (at its probe, or when the MCP
   * catalog re-read it after list_changed): refused with `catalog_too_large`, stopped like any
   * other refusal.
   */
  async refuseCatalog(item: Integration, error: CatalogTooLarge): Promise<void> {
    if (this.items.get(item.name) !== item || item.state === 'refused') return;
    this.deps.log.warn(
      { integration: item.name, limit: error.limit, value: error.value, max: error.max },
      'tool catalog too large; integration refused',
    );
    await this.refuseStarted(item, [{ code: 'catalog_too_large', message: error.message }]);
  }

  /** Refused after its server started: nothing of it keeps running, and its processes' key goes. */
  private async refuseStarted(item: Integration, reasons: Reason[]): Promise<void> {
    this.refuse(item, { granted: false, reasons });
    item.tools = [];
    await stopItem(item);
    item.upstream = undefined;
    item.processes = [];
    if (this.items.get(item.name) === item) {
      await retireProcessKey(this.deps.sql, this.deps.log, item.name, this.deps.instance);
    }
  }

  private fail(item: Integration, error: unknown): Integration {
    // An HTTP server of its own that is not reachable: how its process ended says why
    // (`… (stderr: … EADDRINUSE …)`).
    const exits = item.processes
      .map((p) => p.status())
      .filter((s) => s.lastExit !== null)
      .map((s) => `process ${s.name} ${s.lastExit}`);
    item.lastError = [(error as Error).message, ...exits].join('; ');
    item.state = 'failed';
    this.changed(item.name);
    this.deps.log.warn({ integration: item.name, err: error }, 'integration failed');
    return item;
  }

  private refuse(item: Integration, decision: { granted: false; reasons: Reason[] }): Integration {
    item.state = 'refused';
    this.changed(item.name);
    item.reasons = decision.reasons;
    this.deps.log.warn(
      { integration: item.name, reasons: decision.reasons },
      'integration refused',
    );
    return item;
  }

  /**
   * An upstream that kept flooding (flood-meter.ts) is refused as `upstream_flooding` and
   * stopped, with its processes, until the integration is reloaded: restarting it would only
   * start the flood again, and every other integration's agents share the gateway with it.
   */
  private flooding(item: Integration, message: string): void {
    if (this.items.get(item.name) !== item || item.state === 'refused') return;
    // As any refusal after start: stopped, and its processes' API key retired with them.
    this.refuseStarted(item, [{ code: 'upstream_flooding', message }]).catch((error: unknown) =>
      this.deps.log.warn(
        { integration: item.name, err: error },
        'stopping flooding upstream failed',
      ),
    );
  }

  private policyOrEmpty(): Policy {
    return this.policy ?? ({ integrations: {} } as unknown as Policy);
  }
}
