import { Badge } from '../components/ui.tsx';

/**
 * What an integration's egress mode means (gateway/src/integrations/egress-plan.ts EgressMode),
 * shown as the badge's tooltip and as words on the integration's page.
 */
export const EGRESS_WORDS: Record<string, string> = {
  isolated: 'its programs run in a network namespace whose only way out is the egress proxy',
  advisory: 'its programs are told the proxy; one that ignores HTTPS_PROXY is not stopped',
  off: 'no egress proxy (SWITCHBOARD_EGRESS=off): its programs reach the network directly',
};

/** The mode as a badge (nothing while the integration has not been planned: null). */
export function EgressMode(props: { mode: string | null | undefined }) {
  if (!props.mode) return <span>—</span>;
  return <Badge value={props.mode} title={EGRESS_WORDS[props.mode]} />;
}
