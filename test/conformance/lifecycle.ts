import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What every part of a conformance run shares: the cleanup registry (everything started says
 * how to stop it; run on success, failure and signals, last started first stopped), the run's
 * own error class, and the small process helpers.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HERE = path.join(REPO_ROOT, 'test/conformance');

/** A failure of the run itself (not of a scenario): printed without a stack, exit 1. */
export class RunError extends Error {}

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;

/** Registers how to stop something just started; once cleanup has begun, stops it at once. */
export function onCleanup(step: () => Promise<void>): () => Promise<void> {
  if (cleaning) void cleaning.then(step).catch(() => {});
  else cleanups.push(step);
  return step;
}

/** Forgets a step that already ran (a suite process that exited by itself). */
export function dropCleanup(step: () => Promise<void>): void {
  const at = cleanups.indexOf(step);
  if (at >= 0) cleanups.splice(at, 1);
}

/** Last registered, first stopped. Idempotent: later calls wait for the first. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((error: Error) =>
        console.error(`conformance: cleanup step failed: ${error.message}`),
      );
    }
  })();
  return cleaning;
}

/** Nothing new is started once cleanup has begun (a signal arrived, or the run is over). */
export function assertRunning(): void {
  if (cleaning) throw new RunError('interrupted');
}

/** The exit code of the signal that interrupted the run, if one did. */
export let signalled: number | undefined;

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    console.error(`\nconformance: ${signal}: stopping everything started`);
    signalled ??= code;
    void cleanup().finally(() => process.exit(code));
  });
}

export function rel(p: string): string {
  return path.relative(REPO_ROOT, p) || '.';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`conformance: ${error.message}`);
      resolve(null);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopProcess(
  child: ChildProcess,
  exited: Promise<unknown>,
  name: string,
  graceMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`conformance: ${name} did not stop in ${graceMs} ms: SIGKILL`);
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RunError(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
