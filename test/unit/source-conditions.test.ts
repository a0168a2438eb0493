import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as policy from '@switchboard/policy';
import * as sdk from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import * as policySource from '../../policy/src/index.ts';
import * as sdkSource from '../../sdk/src/index.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

// Issue 20 item 2: the workspace packages export their compiled dist/ by default and their
// TypeScript sources under the `switchboard-source` condition, which vitest.config.ts puts
// first. Were that condition lost, the tests would import dist/ (the last build) and test stale
// code without a failure: here, the same module instance as the source file, or not.
describe('workspace packages in tests', () => {
  it('@switchboard/sdk and @switchboard/policy are their src/ modules, not dist/', () => {
    expect(sdk.isCron).toBe(sdkSource.isCron);
    expect(policy.budgetSchema).toBe(policySource.budgetSchema);
  });

  it('outside the tests (plain Node) they resolve to the compiled dist/*.js', () => {
    // A fresh process: vitest starts its workers with --conditions switchboard-source.
    const resolve = (name: string) =>
      execFileSync(process.execPath, ['-p', `require.resolve(${JSON.stringify(name)})`], {
        cwd: path.join(REPO_ROOT, 'gateway'),
        encoding: 'utf8',
      })
        .trim()
        .slice(REPO_ROOT.length);
    expect(resolve('@switchboard/sdk')).toBe('sdk/dist/index.js');
    expect(resolve('@switchboard/sdk/server')).toBe('sdk/dist/server.js');
    expect(resolve('@switchboard/policy')).toBe('policy/dist/index.js');
  });
});
