import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * The console project's global setup: Debian's Chromium must be there for the browser suite
 * (browser downloads do not work on these machines). Missing, and run as root with apt-get at
 * hand, it is installed once here, so `npm test` works on a fresh machine as .ci/run does;
 * otherwise the suite fails with the command to run (never skips).
 */
export default function setup(): void {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (fs.existsSync(chromium)) return;
  const root = process.getuid?.() === 0;
  if (!root || process.env.CHROMIUM_PATH || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(
      `the console's browser suite needs Chromium at ${chromium}: apt-get install chromium (or set CHROMIUM_PATH)`,
    );
  }
  console.log('console suite: Chromium is missing; apt-get install chromium (once, ~1 min)');
  const install = () =>
    execFileSync(
      'apt-get',
      ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'chromium'],
      { stdio: 'inherit' },
    );
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
}
