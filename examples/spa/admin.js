// Gatehouse admin console: the admin area of the example app.
//
// It lives at #/admin/... of the same page, uses the same session (the access token
// in api.js's memory, the refresh cookie) and calls only the admin API (/admin/...),
// through api.js's api(), which app.js hands over: expired tokens are refreshed, and a write that answers
// 403 FRESH_AUTH_REQUIRED asks for the password (and the authenticator code when the
// challenge says acr_values="aal2") and is retried. The service decides who is an
// administrator on every call; the page only hides the link from other users.
//
// Each screen is one entry of `views` below: a route (the part after #/admin/), a
// title for the navigation (or none), and a render function that fills a container.
// Adding a screen is one more entry and its render function, built from the
// helpers of admin-kit.js (h, row, pager, action), as the webhook deliveries are
// (admin-service.js).
//
// Everything from the API is put into the page with textContent (via h), never as
// HTML: names, emails and user agents are attacker-controlled.

import { start, sync } from './admin-kit.js';
import { renderClients, renderDeliveries, renderKeys } from './admin-service.js';
import { renderUser, renderUsers } from './admin-users.js';

/**
 * The screens, in navigation order. route: a RegExp on the path after #/admin/, its
 * groups passed to render; title: the navigation label (null: not in the navigation);
 * render(container, ...groups): fills the container, may be async.
 */
const views = [
  { id: 'users', title: 'Users', route: /^(?:users)?$/, render: renderUsers },
  { id: 'user', title: null, route: /^users\/([0-9a-fA-F-]{36})$/, render: renderUser },
  { id: 'keys', title: 'Signing keys', route: /^keys$/, render: renderKeys },
  { id: 'clients', title: 'OpenID clients', route: /^clients$/, render: renderClients },
  { id: 'webhooks', title: 'Webhook deliveries', route: /^webhooks$/, render: renderDeliveries },
];

/**
 * Starts the console. deps: { api, describe, formatTime, isSignedIn, isAdmin, onRoute }.
 * isAdmin() says whether to offer the link; onRoute(active) tells app.js whether the
 * console or the account page is on screen.
 */
export function startConsole(deps) {
  start(deps, views);
}

/**
 * Follows a change of sign-in state (show() in ui.js calls it on every sign-in,
 * refresh and sign-out); see sync in admin-kit.js.
 */
export { sync };
