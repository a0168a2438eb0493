import type { ComponentChildren } from 'preact';
import { location } from '../lib/router.ts';
import { can, type SessionKey, signOut } from '../lib/session.ts';
import { ROUTES } from '../pages/routes.ts';

/** The frame of every signed-in view: the navigation (what the key may see), who, sign-out. */
export function Layout(props: { who: SessionKey; children: ComponentChildren }) {
  const path = location.value.path;
  const items = ROUTES.filter((r) => r.nav && (!r.scope || can(r.scope)));
  return (
    <div class="layout">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Switchboard
        </a>
        <span class="who" title={props.who.scopes.join(' ')}>
          {props.who.name} <code>{props.who.prefix}…</code>
        </span>
        <button type="button" class="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Console">
        <ul>
          {items.map((r) => {
            const current =
              r.pattern === '/'
                ? path === '/'
                : path === r.pattern || path.startsWith(`${r.pattern}/`);
            return (
              <li key={r.pattern}>
                <a href={`#${r.pattern}`} aria-current={current ? 'page' : undefined}>
                  {r.title}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      <main id="main">{props.children}</main>
    </div>
  );
}
