/**
 * @switchboard/policy — the operator policy schema and the pure decision whether an
 * integration may run (issue 3). Until then this package only fixes the policy apiVersion.
 */
export const POLICY_API_VERSION = 'switchboard/policy/v1';
