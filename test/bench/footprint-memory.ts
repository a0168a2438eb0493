/**
 * The footprint benchmark's memory readings (issue 20): one process's resident memory from
 * /proc/<pid>/status, sampled over time and labelled with the phase of the run, and the tables
 * made of the samples.
 */
import fs from 'node:fs';
import { tableHead, tableRow } from './markdown.ts';

export interface MemoryReading {
  /** VmRSS: resident now. */
  rssKb: number;
  /** VmHWM: the most resident so far. */
  hwmKb: number;
  /** RssAnon: the heaps (V8's, WASM's, malloc's): what grows and what settings trim. */
  anonKb: number;
  /** RssFile: mapped files (node, the .node addons, the wasm files' pages). */
  fileKb: number;
}

/** One reading of `pid`; undefined once it is gone. */
export function readMemory(pid: number): MemoryReading | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return {
    rssKb: kb('VmRSS'),
    hwmKb: kb('VmHWM'),
    anonKb: kb('RssAnon'),
    fileKb: kb('RssFile'),
  };
}

export interface Sample extends MemoryReading {
  /** Seconds since the sampler started. */
  t: number;
  phase: string;
}

/** Reads `pid` every `everyMs`, labelling each reading with the phase set last. */
export class Sampler {
  readonly samples: Sample[] = [];
  private phase = 'start';
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.take(), everyMs);
  }

  /** Starts a phase (with a reading at its start) and returns the reading. */
  enter(phase: string): MemoryReading | undefined {
    this.phase = phase;
    return this.take();
  }

  take(): MemoryReading | undefined {
    const reading = readMemory(this.pid);
    if (reading) {
      this.samples.push({
        ...reading,
        t: (performance.now() - this.started) / 1000,
        phase: this.phase,
      });
    }
    return reading;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const mb = (kb: number) => (kb / 1024).toFixed(0);

/** A row per phase: resident at its end, the most during it, anon/file at its end, the HWM. */
export function phaseTable(samples: Sample[], notes: Record<string, string>): string[] {
  const lines = tableHead(
    'phase',
    'seconds',
    'RSS at end (MB)',
    'max RSS in phase (MB)',
    'anon / file at end (MB)',
    'VmHWM (MB)',
    'what',
  );
  const phases = [...new Set(samples.map((s) => s.phase))];
  for (const phase of phases) {
    const of = samples.filter((s) => s.phase === phase);
    const last = of.at(-1)!;
    lines.push(
      tableRow(
        phase,
        (last.t - of[0]!.t).toFixed(1),
        mb(last.rssKb),
        mb(Math.max(...of.map((s) => s.rssKb))),
        `${mb(last.anonKb)} / ${mb(last.fileKb)}`,
        mb(last.hwmKb),
        notes[phase] ?? '',
      ),
    );
  }
  return lines;
}

/** RSS over time: one sample every `everyS` seconds (the last of each phase always kept). */
export function seriesTable(samples: Sample[], everyS: number): string[] {
  const lines = tableHead('t (s)', 'phase', 'RSS (MB)');
  let next = 0;
  samples.forEach((s, i) => {
    const lastOfPhase = samples[i + 1]?.phase !== s.phase;
    if (s.t < next && !lastOfPhase) return;
    next = s.t + everyS;
    lines.push(tableRow(s.t.toFixed(0), s.phase, mb(s.rssKb)));
  });
  return lines;
}
