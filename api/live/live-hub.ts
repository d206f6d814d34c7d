import { AppError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { RecentReading } from '../../influx/recent-readings.reader.js';
import type { Telemetry } from '../../influx/tenant-telemetry.js';

/** One new reading as a live subscriber receives it: the device's id, never its pseudonym. */
export interface LiveReading {
  time: string;
  deviceId: string;
  metric: string;
  value: number | boolean;
}

export interface LiveSubscriber {
  /** Only these devices' readings; every device of the organisation when null. */
  devices: ReadonlySet<string> | null;
  send(reading: LiveReading): void;
  /** The hub is shutting down: end the stream. */
  end(): void;
}

export interface LiveHubOptions {
  telemetry: Telemetry;
  devices: { listForOrg(orgId: string): Promise<{ id: string; pseudonym: string }[]> };
  logger: Logger;
  /** How often a tenant with subscribers is polled. */
  pollMs?: number;
  /**
   * How far back each poll looks. Devices stamp readings themselves and the ingest spool
   * writes them a moment later, so a reading may land in InfluxDB stamped in the past; the
   * window catches those, and a seen-set keeps each reading to one delivery.
   */
  overlapMs?: number;
  now?: () => number;
}

/** Rows per poll: a full answer makes the next poll continue from its last reading. */
const POLL_LIMIT = 5000;
/** Unknown pseudonyms make the directory be read again, but not more often than this. */
const DIRECTORY_REFRESH_MS = 1000;

/**
 * The live stream's fan-out: one poller per organisation that has subscribers, however many
 * streams it has, so InfluxDB sees one query per tenant and poll. Readings carry pseudonyms
 * only (P2); they are translated back to device ids here, in the API, from a per-organisation
 * copy of the directory that is refreshed when an unknown pseudonym turns up.
 */
export class LiveHub {
  private readonly feeds = new Map<string, TenantFeed>();
  private closed = false;

  constructor(private readonly options: LiveHubOptions) {}

  /**
   * Adds a subscriber and resolves once its organisation's poller has taken stock of what is
   * already stored: from then on, every reading that reaches InfluxDB is new and delivered.
   * Rejects (and subscribes nobody) when that first poll fails, or NOT_FOUND when a device it
   * asks for is not the organisation's. Returns the unsubscribe.
   */
  async subscribe(
    org: { orgId: string; tenantKey: string },
    subscriber: LiveSubscriber,
  ): Promise<() => void> {
    // Shutting down: the client may reconnect to another instance.
    if (this.closed) throw new AppError('SERVICE_UNAVAILABLE');
    if (subscriber.devices) {
      const known = new Set((await this.options.devices.listForOrg(org.orgId)).map((d) => d.id));
      // Scoped by organisation: another organisation's device is a missing one.
      if (![...subscriber.devices].every((id) => known.has(id))) throw new AppError('NOT_FOUND');
    }
    let feed = this.feeds.get(org.orgId);
    if (!feed) {
      const created = new TenantFeed(org.orgId, org.tenantKey, this.options, () => {
        if (this.feeds.get(org.orgId) === created) this.feeds.delete(org.orgId);
      });
      this.feeds.set(org.orgId, created);
      feed = created;
    }
    const joined = feed;
    joined.subscribers.add(subscriber);
    try {
      await joined.ready;
    } catch (err) {
      joined.leave(subscriber);
      throw err;
    }
    return () => joined.leave(subscriber);
  }

  /** Organisations being polled now: one per organisation with at least one subscriber. */
  get pollingCount(): number {
    return this.feeds.size;
  }

  /** Ends every stream and stops every poller, for the API's shutdown. */
  close(): void {
    this.closed = true;
    for (const feed of [...this.feeds.values()]) {
      for (const subscriber of [...feed.subscribers]) subscriber.end();
      feed.stop();
    }
  }
}

class TenantFeed {
  readonly subscribers = new Set<LiveSubscriber>();
  /** Resolves after the first poll, which only marks what is stored as seen. */
  readonly ready: Promise<void>;
  /** `time|device|metric` of readings already delivered, with their time for pruning. */
  private readonly seen = new Map<string, number>();
  private deviceIds = new Map<string, string>();
  private directoryReadAt = 0;
  /** After a full answer, the next poll starts at its last reading instead of the window. */
  private continueFrom = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly pollMs: number;
  private readonly overlapMs: number;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    private readonly orgId: string,
    private readonly tenantKey: string,
    private readonly options: LiveHubOptions,
    private readonly onStop: () => void,
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.overlapMs = options.overlapMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.log = options.logger.child({ module: 'live-hub', orgId });
    this.ready = this.start();
    // A failed start is reported to the subscribers awaiting `ready`; nothing else waits on it.
    this.ready.catch(() => this.stop());
  }

  leave(subscriber: LiveSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.onStop();
  }

  private async start(): Promise<void> {
    await this.refreshDirectory();
    await this.poll(true);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.poll(false).then(
        () => this.schedule(),
        (err: unknown) => {
          this.log.warn({ err }, 'live poll failed; trying again');
          this.schedule();
        },
      );
    }, this.pollMs);
  }

  private async poll(priming: boolean): Promise<void> {
    const since = Math.max(this.now() - this.overlapMs, this.continueFrom);
    const rows = await this.options.telemetry
      .forTenant(this.tenantKey)
      .live.since(new Date(since), POLL_LIMIT);
    if (this.stopped) return;
    const last = rows.at(-1);
    this.continueFrom = rows.length === POLL_LIMIT && last ? last.time - 1 : 0;
    for (const [key, time] of this.seen) if (time <= since) this.seen.delete(key);

    const fresh = rows.filter((r) => !this.seen.has(keyOf(r)));
    if (priming) {
      // The first poll: everything stored so far is old.
      for (const row of fresh) this.seen.set(keyOf(row), row.time);
      return;
    }
    if (fresh.some((r) => !this.deviceIds.has(r.deviceKey))) {
      // A device provisioned since the directory was read; its readings wait a poll if the
      // directory was read a moment ago, and are dropped only if it still does not know them.
      if (this.now() - this.directoryReadAt < DIRECTORY_REFRESH_MS) {
        this.deliver(fresh.filter((r) => this.deviceIds.has(r.deviceKey)));
        return;
      }
      await this.refreshDirectory();
      if (this.stopped) return;
    }
    this.deliver(fresh);
  }

  /** Marks readings seen and sends them; one whose device the directory lacks is dropped. */
  private deliver(rows: RecentReading[]): void {
    for (const row of rows) {
      this.seen.set(keyOf(row), row.time);
      const deviceId = this.deviceIds.get(row.deviceKey);
      if (deviceId === undefined) continue;
      const reading: LiveReading = {
        time: new Date(row.time).toISOString(),
        deviceId,
        metric: row.metric,
        value: row.value,
      };
      for (const subscriber of this.subscribers) {
        if (subscriber.devices === null || subscriber.devices.has(deviceId)) {
          subscriber.send(reading);
        }
      }
    }
  }

  private async refreshDirectory(): Promise<void> {
    this.directoryReadAt = this.now();
    const devices = await this.options.devices.listForOrg(this.orgId);
    this.deviceIds = new Map(devices.map((d) => [d.pseudonym, d.id]));
  }
}

function keyOf(reading: RecentReading): string {
  return `${reading.time}|${reading.deviceKey}|${reading.metric}`;
}
