import { z } from 'zod';

/**
 * The embedded database's memory settings (issue 20). PGlite runs Postgres in the gateway's own
 * process, in a WASM memory that grows and never shrinks, so every Postgres buffer it touches
 * stays resident for the life of the process. Its defaults are a server's: shared_buffers
 * 128MB (zeroed at start, so resident at once: +115 MB measured on a 2-core machine),
 * maintenance_work_mem 64MB (held after the first VACUUM or index build). The gateway's data is
 * small and the kernel's page cache keeps its files warm behind the buffers, so the defaults
 * below trade little speed (test/bench/HISTORY.md, issue 20, Footprint) for ~120 MB.
 */
export interface EmbeddedMemory {
  /** Postgres shared_buffers, in kB. */
  sharedBuffersKb: number;
  /** Postgres work_mem (per sort or hash), in kB. */
  workMemKb: number;
  /** Postgres maintenance_work_mem (VACUUM, CREATE INDEX), in kB. */
  maintenanceWorkMemKb: number;
}

export const EMBEDDED_MEMORY_DEFAULTS: EmbeddedMemory = {
  sharedBuffersKb: 16 * 1024,
  workMemKb: 4 * 1024,
  maintenanceWorkMemKb: 16 * 1024,
};

const UNITS = { kB: 1, MB: 1024, GB: 1024 * 1024 } as const;

/** A Postgres memory size (`512kB`, `16MB`, `1GB`) between `minKb` and `maxKb`, as kB. */
function memorySize(minKb: number, maxKb: number) {
  const shown = (kb: number) => (kb % 1024 === 0 ? `${kb / 1024}MB` : `${kb}kB`);
  return z
    .string()
    .regex(/^\d+(kB|MB|GB)$/, 'expected a size in kB, MB or GB, e.g. 16MB')
    .transform((v) => {
      const [, n, unit] = /^(\d+)(kB|MB|GB)$/.exec(v)!;
      return Number(n) * UNITS[unit as keyof typeof UNITS];
    })
    .pipe(
      z
        .number()
        .min(minKb, `expected at least ${shown(minKb)}`)
        .max(maxKb, `expected at most ${shown(maxKb)}`),
    );
}

/** 1 GB: the WASM memory holds at most 2 GB, and everything else must fit beside it. */
const MAX_KB = 1024 * 1024;

/** The environment variables (config.ts), defaults above; unused with DATABASE_URL. */
export const embeddedMemoryEnv = {
  SWITCHBOARD_EMBEDDED_SHARED_BUFFERS: memorySize(1024, MAX_KB).default(
    EMBEDDED_MEMORY_DEFAULTS.sharedBuffersKb,
  ),
  SWITCHBOARD_EMBEDDED_WORK_MEM: memorySize(64, MAX_KB).default(EMBEDDED_MEMORY_DEFAULTS.workMemKb),
  SWITCHBOARD_EMBEDDED_MAINTENANCE_WORK_MEM: memorySize(1024, MAX_KB).default(
    EMBEDDED_MEMORY_DEFAULTS.maintenanceWorkMemKb,
  ),
};

/** Postgres command-line settings (`-c name=value`) for PGlite's startParams. */
export function memoryStartParams(memory: EmbeddedMemory): string[] {
  return [
    '-c',
    `shared_buffers=${memory.sharedBuffersKb}kB`,
    '-c',
    `work_mem=${memory.workMemKb}kB`,
    '-c',
    `maintenance_work_mem=${memory.maintenanceWorkMemKb}kB`,
  ];
}
