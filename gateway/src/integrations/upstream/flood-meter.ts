import type { Logger } from '../../log.ts';

/**
 * What one integration's stdio upstreams (every instance of it) send unasked, measured per
 * second: notifications (list changes, progress, resource updates, log messages; counted as
 * they are read, paced-reading.ts) and stderr bytes.
 * Stderr past its budget is dropped here and the drops are logged as one line every few
 * seconds; an integration that stays over a limit for FLOOD_SECONDS in a row is reported once
 * through `onFlooding` (the registry refuses it as `upstream_flooding`).
 *
 * Why these numbers: a server that reports progress 10 times a second on 10 calls at once sends
 * 100 notifications a second, so 200 leaves room for honest ones and still stops the 20,000 a
 * second of issue 13; 64 KiB of stderr a second is ~500 log lines of 128 bytes, more than any
 * operator reads, against the 200 MB that became 502 MB of log at 94 % CPU. Ten seconds in a
 * row tells a sustained flood from a burst (a server printing its start-up banner, a batch of
 * progress at the end of a job).
 */

/** Notifications a second above which a second counts as flooding. */
export const MAX_NOTIFICATIONS_PER_S = 200;
/** Stderr bytes a second that are logged; the rest of the second's bytes are dropped. */
export const STDERR_BYTES_PER_S = 64 * 1024;
/** Seconds in a row over a limit before the integration is reported as flooding. */
export const FLOOD_SECONDS = 10;
/** How often dropped stderr is summed up in the log while drops happen (one line per 5 s). */
export const DROP_REPORT_MS = 5_000;

const SECOND_MS = 1_000;

export class FloodMeter {
  private second = 0;
  private notifications = 0;
  private stderrBytes = 0;
  private streak = 0;
  private flooding = false;
  private dropped = { bytes: 0, lines: 0 };
  private reporter: NodeJS.Timeout | undefined;

  constructor(
    private readonly integration: string,
    private readonly log: Logger,
    private readonly onFlooding: (message: string) => void = () => {},
  ) {}

  /** One notification from an upstream of this integration; false once over this second's limit. */
  notification(): boolean {
    this.roll();
    this.notifications += 1;
    return this.notifications <= MAX_NOTIFICATIONS_PER_S;
  }

  /** Milliseconds until the next second starts (when the limits start again). */
  untilNextSecond(): number {
    return SECOND_MS - (Date.now() % SECOND_MS);
  }

  /** Whether a stderr line of `bytes` may be logged (false: over this second's budget, dropped). */
  stderr(bytes: number): boolean {
    this.roll();
    this.stderrBytes += bytes;
    if (this.stderrBytes <= STDERR_BYTES_PER_S) return true;
    this.dropped.bytes += bytes;
    this.dropped.lines += 1;
    this.startReporter();
    return false;
  }

  /** Whether the integration has been reported as flooding. */
  get isFlooding(): boolean {
    return this.flooding;
  }

  /** Logs what is still uncounted and stops the report timer. */
  stop(): void {
    clearInterval(this.reporter);
    this.reporter = undefined;
    this.report();
  }

  /** Closes the previous second when a new one starts: was it over a limit, and for how long? */
  private roll(): void {
    const now = Math.floor(Date.now() / SECOND_MS);
    if (now === this.second) return;
    const over =
      this.notifications > MAX_NOTIFICATIONS_PER_S || this.stderrBytes > STDERR_BYTES_PER_S;
    this.streak = over ? this.streak + 1 : 0;
    if (this.streak >= FLOOD_SECONDS && !this.flooding) {
      this.flooding = true;
      this.log.warn(
        { integration: this.integration, seconds: this.streak },
        'upstream flooding: over its notification or stderr limit for too long',
      );
      try {
        this.onFlooding(
          `the server sent more than ${MAX_NOTIFICATIONS_PER_S} notifications or ${STDERR_BYTES_PER_S / 1024} KiB of stderr a second for ${FLOOD_SECONDS} s in a row; reload the integration to try again`,
        );
      } catch (error) {
        this.log.error({ integration: this.integration, err: error }, 'flood handler failed');
      }
    }
    // A gap of quiet seconds (nothing arrived, so nothing rolled) breaks the run.
    if (now > this.second + 1) this.streak = 0;
    this.second = now;
    this.notifications = 0;
    this.stderrBytes = 0;
  }

  private startReporter(): void {
    if (this.reporter) return;
    this.reporter = setInterval(() => {
      if (this.dropped.bytes === 0) {
        clearInterval(this.reporter);
        this.reporter = undefined;
        return;
      }
      this.report();
    }, DROP_REPORT_MS);
    this.reporter.unref();
  }

  private report(): void {
    const { bytes, lines } = this.dropped;
    if (bytes === 0) return;
    this.dropped = { bytes: 0, lines: 0 };
    this.log.warn(
      { integration: this.integration, droppedBytes: bytes, droppedLines: lines },
      `dropped ${bytes} bytes of stderr in the last ${DROP_REPORT_MS / 1000}s (over ${STDERR_BYTES_PER_S / 1024} KiB/s)`,
    );
  }
}
