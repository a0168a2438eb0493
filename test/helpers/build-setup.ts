import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Brings the build (sdk, policy, gateway and example servers' dist/, the console bundle) up to
 * date before a test run: the processes tests start (`switchboard start`, the example servers
 * in servers/) run the compiled JavaScript, and a build older than the sources would test stale
 * code. `tsc -b` skips what is up to date: ~0.2 s plus the console bundle's ~0.3 s when nothing
 * changed. A failing build fails the run here, with tsc's output.
 */
export default function setup() {
  execFileSync(process.execPath, ['scripts/build.js'], { cwd: REPO_ROOT, stdio: 'inherit' });
}
