// Gatehouse admin console: the admin area of the example app.
//
// It lives at #/admin/... of the same page, uses the same session (the access token
// in app.js's memory, the refresh cookie) and calls only the admin API (/admin/...),
// through app.js's api(): expired tokens are refreshed, and a write that answers
// 403 FRESH_AUTH_REQUIRED asks for the password (and the authenticator code when the
// challenge says acr_values="aal2") and is retried. The service decides who is an
// administrator on every call; the page only hides the link from other users.
//
// Each screen is one entry of `views` below: a route (the part after #/admin/), a
// title for the navigation (or none), and a render function that fills a container.
// Adding a screen is one more entry and its render function, built from the
// helpers here (h, row, pager, action), as the webhook deliveries are.
//
// Everything from the API is put into the page with textContent (via h), never as
// HTML: names, emails and user agents are attacker-controlled.

/** Page size of the user list and the security events (the API allows 1 to 100). */
const PAGE = 20;

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

/** What app.js hands over: api(method, path, body), describe(error), formatTime(iso). */
let app = null;

/** The console's elements in index.html. */
let els = null;

/** Counts the renders, so a slow answer for an old screen does not fill a newer one. */
let generation = 0;

/** A message for the next screen (after a deletion moves to the list), or null. */
let flash = null;

/**
 * Starts the console. deps: { api, describe, formatTime, isAdmin, onRoute }.
 * isAdmin() says whether to offer the link; onRoute(active) tells app.js whether the
 * console or the account page is on screen.
 */
export function startConsole(deps) {
  app = deps;
  els = {
    view: byId('admin-view'),
    nav: byId('admin-nav'),
    main: byId('admin-main'),
    status: byId('admin-status'),
    link: byId('admin-link'),
    confirm: byId('confirm-dialog'),
    confirmForm: byId('confirm-form'),
    confirmText: byId('confirm-text'),
    confirmInput: byId('confirm-input'),
    confirmLabel: byId('confirm-label'),
    confirmCancel: byId('confirm-cancel'),
  };
  els.nav.replaceChildren(...views.filter((v) => v.title).map((v) =>
    h('a', { href: `#/admin/${v.id}`, dataset: { testid: `admin-nav-${v.id}`, view: v.id } }, v.title)));
  els.nav.append(h('a', { href: '#/', dataset: { testid: 'admin-leave' } }, 'Back to my account'));
  window.addEventListener('hashchange', route);
}

/** The path after #/admin/, or null when the page is not on a console route. */
function adminPath() {
  const m = /^#\/admin(?:\/(.*))?$/.exec(location.hash);
  return m ? (m[1] || '') : null;
}

/** The route last rendered: {path, active}. */
let shown = { path: null, active: false };

/**
 * Follows a change of sign-in state (app.js calls it on every sign-in, refresh and
 * sign-out): renders only when the console appears, goes or moves, so a token
 * refresh or a step-up in the middle of an action keeps the screen as it is.
 */
export function sync() {
  if (!app) {
    return;
  }
  const path = adminPath();
  const active = path !== null && app.isSignedIn();
  els.link.hidden = !app.isAdmin();
  if (active === shown.active && (!active || path === shown.path)) {
    return;
  }
  route();
}

/** Renders the screen of the current route (again). */
function route() {
  if (!app) {
    return;
  }
  els.link.hidden = !app.isAdmin();
  const path = adminPath();
  const active = path !== null && app.isSignedIn();
  shown = { path, active };
  app.onRoute(active);
  els.view.hidden = !active;
  if (!active) {
    generation++;
    els.main.replaceChildren();
    delete els.view.dataset.view;
    return;
  }
  const view = views.find((v) => v.route.test(path)) || null;
  const gen = ++generation;
  els.status.hidden = true;
  if (flash) {
    say(...flash);
    flash = null;
  }
  els.main.replaceChildren();
  els.main.dataset.loading = 'true';
  for (const a of els.nav.querySelectorAll('a[data-view]')) {
    const current = view !== null && (a.dataset.view === view.id || view.id === 'user' && a.dataset.view === 'users');
    a.classList.toggle('current', current);
    if (current) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  if (view === null) {
    els.view.dataset.view = 'unknown';
    say('No such page in the console.');
    delete els.main.dataset.loading;
    return;
  }
  els.view.dataset.view = view.id;
  const container = h('div', { dataset: { testid: `admin-screen-${view.id}` } });
  els.main.append(container);
  Promise.resolve(view.render(container, ...view.route.exec(path).slice(1))).catch((e) => {
    if (gen === generation) {
      fail(e);
    }
  }).finally(() => {
    if (gen === generation) {
      delete els.main.dataset.loading;
    }
  });
}

// ---------------------------------------------------------------------------------------
// Users

/** The list's state: the search and the cursors of the pages before this one. */
const userList = { q: '', cursors: [], cursor: null };

async function renderUsers(box) {
  const gen = generation;
  const q = h('input', { type: 'search', id: 'admin-q', dataset: { testid: 'admin-q' }, value: userList.q, placeholder: 'Part of an email or name', maxLength: 254 });
  const form = h('form', { className: 'inline', dataset: { testid: 'admin-search' } },
    h('label', {}, 'Search', q),
    h('button', { type: 'submit', dataset: { testid: 'admin-search-submit' } }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    userList.q = q.value.trim();
    firstPage(userList);
  });
  const body = h('tbody', { dataset: { testid: 'admin-users' } });
  box.append(h('h2', {}, 'Users'), form,
    h('table', { className: 'users' }, h('thead', {}, row('th', ['Email', 'Name', 'Roles', 'Status', 'Sessions', 'Last sign-in'])), body));

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (userList.q) {
    params.set('q', userList.q);
  }
  if (userList.cursor) {
    params.set('cursor', userList.cursor);
  }
  const page = await app.api('GET', `/admin/users?${params}`);
  if (gen !== generation) {
    return;
  }
  body.append(...page.items.map((u) => {
    const tr = row('td', [
      h('a', { href: `#/admin/users/${u.id}`, dataset: { testid: 'admin-user-link' } }, u.email),
      u.name || '', u.roles.join(', '), statusBadges(u), String(u.activeSessions),
      u.lastLoginAt ? app.formatTime(u.lastLoginAt) : 'never',
    ]);
    tr.dataset.testid = 'admin-user-row';
    tr.dataset.userId = u.id;
    tr.dataset.email = u.email;
    return tr;
  }));
  if (page.items.length === 0) {
    body.append(row('td', [userList.q ? `No account matches “${userList.q}”.` : 'No accounts.']));
  }
  body.dataset.count = String(page.items.length);
  box.append(pager(userList, page.nextCursor));
}

function statusBadges(u) {
  const span = h('span', { className: 'badges' });
  if (u.disabled) {
    span.append(badge('disabled', 'bad'));
  }
  span.append(u.emailVerified ? badge('verified', 'ok') : badge('unverified', 'muted'));
  if (u.mfaEnabled) {
    span.append(badge('TOTP', 'ok'));
  }
  if (u.passkeys > 0) {
    span.append(badge(u.passkeys === 1 ? '1 passkey' : `${u.passkeys} passkeys`, 'ok'));
  }
  return span;
}

async function renderUser(box, id) {
  const gen = generation;
  const u = await app.api('GET', `/admin/users/${encodeURIComponent(id)}`);
  if (gen !== generation) {
    return;
  }
  box.dataset.userId = u.id;
  box.dataset.disabled = String(u.disabled);
  box.dataset.emailVerified = String(u.emailVerified);
  const facts = h('dl', { dataset: { testid: 'admin-user-facts' } });
  for (const [term, value, testid] of [
    ['Email', u.email, 'email'],
    ['Address', u.emailVerified ? 'verified' : 'not verified', 'verified'],
    ['Name', u.name || '(none)', 'name'],
    ['Status', u.disabled ? 'disabled: cannot sign in' : 'enabled', 'status'],
    ['Roles', u.roles.join(', '), 'roles'],
    ['Last sign-in', u.lastLoginAt ? app.formatTime(u.lastLoginAt) : 'never', 'last-login'],
    ['Language', u.locale, 'locale'],
    ['Created', app.formatTime(u.createdAt), 'created'],
    ['User ID', h('code', {}, u.id), 'id'],
  ]) {
    facts.append(h('dt', {}, term), h('dd', { dataset: { testid: `admin-user-${testid}` } }, value));
  }

  const roles = h('input', { id: 'admin-roles', dataset: { testid: 'admin-roles' }, value: u.roles.join(', '), autocomplete: 'off' });
  const rolesForm = h('form', { className: 'inline', dataset: { testid: 'admin-roles-form' } },
    h('label', {}, 'Roles (comma-separated)', roles),
    h('button', { type: 'submit', dataset: { testid: 'admin-roles-save' } }, 'Save roles'));
  rolesForm.addEventListener('submit', action(rolesForm.querySelector('button'), async () => {
    const list = roles.value.split(',').map((r) => r.trim()).filter((r) => r !== '');
    await patch(u.id, { roles: list }, `Roles of ${u.email}: ${list.join(', ')}`);
  }));

  const buttons = h('div', { className: 'buttons' });
  const button = (testid, text, cls, op) => {
    const b = h('button', { type: 'button', className: cls, dataset: { testid } }, text);
    b.addEventListener('click', action(b, op));
    buttons.append(b);
  };
  if (u.disabled) {
    button('admin-enable', 'Enable account', '', () => patch(u.id, { disabled: false }, `${u.email} can sign in again`));
  } else {
    button('admin-disable', 'Disable account', 'danger', () => patch(u.id, { disabled: true }, `${u.email} is disabled and signed out everywhere`));
  }
  if (!u.emailVerified) {
    button('admin-verify', 'Mark address verified', 'secondary', () => patch(u.id, { emailVerified: true }, `${u.email} is marked verified`));
  }
  button('admin-revoke', 'Sign out everywhere', 'secondary', async () => {
    await app.api('POST', `/admin/users/${encodeURIComponent(u.id)}/revoke-sessions`);
    await reload(`Every session of ${u.email} was revoked`);
  });
  button('admin-delete', 'Delete account…', 'danger', async () => {
    const ok = await confirmTyped(
      `Delete ${u.email}? The account and its sessions are gone for good; its security events stay.`,
      'Type the email address to confirm', u.email);
    if (!ok) {
      say('Not deleted.', 'info');
      return;
    }
    await app.api('DELETE', `/admin/users/${encodeURIComponent(u.id)}`);
    flash = [`${u.email} was deleted`, 'ok'];
    location.hash = '#/admin/users';
  });

  const { body: sessions, more: moreSessions, load: loadSessions } = sessionList(u, gen);
  const { box: factors, load: loadFactors } = factorList(u, gen);
  const { box: identities, load: loadIdentities } = identityList(u, gen);

  const events = h('tbody', { dataset: { testid: 'admin-events' } });
  const { more, load: loadEvents } = pages(`/admin/users/${encodeURIComponent(u.id)}/security-events`, gen, 'admin-events-more', 'Older events', (page) => {
    events.append(...page.items.map((e) => {
      const by = !e.actorId ? '' : e.actorId === u.id ? 'the user'
        : h('a', { href: `#/admin/users/${e.actorId}`, title: e.actorId }, 'administrator');
      const tr = row('td', [app.formatTime(e.createdAt), h('span', { title: e.type }, eventText[e.type] || e.type), by, e.ip || '', e.userAgent || '']);
      tr.dataset.testid = 'admin-event';
      tr.dataset.type = e.type;
      return tr;
    }));
    events.dataset.count = String(events.querySelectorAll('tr').length);
  });

  box.append(
    h('p', {}, h('a', { href: '#/admin/users', dataset: { testid: 'admin-back' } }, '← All users')),
    h('h2', {}, u.name ? `${u.name} <${u.email}>` : u.email),
    facts,
    h('h3', {}, 'Actions'),
    buttons, rolesForm,
    h('h3', {}, 'Sessions'),
    h('table', { className: 'sessions' }, h('thead', {}, row('th', ['Started', 'Last used', 'Expires', 'Device', 'IP', 'App', ''])), sessions),
    moreSessions,
    h('h3', {}, 'Second factors'),
    factors,
    identities,
    h('h3', {}, 'Security events'),
    h('table', { className: 'events' }, h('thead', {}, row('th', ['When', 'Event', 'By', 'IP', 'Device'])), events),
    more,
  );
  await Promise.all([loadSessions(), loadFactors(), loadIdentities(), loadEvents()]);
}

/**
 * The account's active sessions, a page at a time, each with a Revoke button
 * (DELETE /admin/users/{id}/sessions/{sessionId}: a write, so the step-up applies).
 * Returns the tbody and the "more" button, and the loader of the next page.
 */
function sessionList(u, gen) {
  const body = h('tbody', { dataset: { testid: 'admin-sessions', count: '0' } });
  const { more, load } = pages(`/admin/users/${encodeURIComponent(u.id)}/sessions`, gen, 'admin-sessions-more', 'More sessions', (page) => {
    body.append(...page.items.map((sess) => {
      const revoke = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-session-revoke' } }, 'Revoke');
      revoke.addEventListener('click', action(revoke, async () => {
        await app.api('DELETE', `/admin/users/${encodeURIComponent(u.id)}/sessions/${encodeURIComponent(sess.id)}`);
        await reload(`A session of ${u.email} was revoked (started ${app.formatTime(sess.createdAt)})`);
      }));
      const device = h('span', {}, sess.userAgent || 'unknown');
      if (sess.current) {
        device.append(' ', badge('your session', 'muted'));
      }
      const tr = row('td', [app.formatTime(sess.createdAt), app.formatTime(sess.lastUsedAt), app.formatTime(sess.expiresAt),
        device, sess.ip || '', sess.client ? sess.client.name : '', revoke]);
      tr.dataset.testid = 'admin-session';
      tr.dataset.sessionId = sess.id;
      return tr;
    }));
    const n = body.querySelectorAll('tr[data-session-id]').length;
    body.dataset.count = String(n);
    body.querySelector('tr.empty')?.remove();
    if (n === 0) {
      const tr = row('td', ['No active sessions.']);
      tr.className = 'empty';
      tr.firstChild.colSpan = 7;
      body.append(tr);
    }
  });
  return { body, more, load };
}

/**
 * A list read a page at a time from path (an API path that takes limit and cursor):
 * load() fetches the next page and hands it to show, unless the view has moved on
 * since gen; the returned "more" button (testid, label) loads the next one and shows
 * only while there is one.
 */
function pages(path, gen, testid, label, show) {
  const more = h('button', { type: 'button', className: 'secondary small', dataset: { testid }, hidden: true }, label);
  let cursor = null;
  const load = async () => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) {
      params.set('cursor', cursor);
    }
    const page = await app.api('GET', `${path}?${params}`);
    if (gen !== generation) {
      return;
    }
    show(page);
    cursor = page.nextCursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', action(more, load));
  return { more, load };
}

/** The account's factors: TOTP on or off, and the passkeys (never a secret). */
function factorList(u, gen) {
  const box = h('div', { dataset: { testid: 'admin-factors' } });
  const load = async () => {
    const f = await app.api('GET', `/admin/users/${encodeURIComponent(u.id)}/factors`);
    if (gen !== generation) {
      return;
    }
    box.dataset.totp = String(f.totp.enabled);
    box.dataset.passkeys = String(f.passkeys.length);
    const keys = h('tbody', { dataset: { testid: 'admin-passkeys' } },
      ...f.passkeys.map((k) => {
        const tr = row('td', [k.name, app.formatTime(k.createdAt), k.lastUsedAt ? app.formatTime(k.lastUsedAt) : 'never']);
        tr.dataset.testid = 'admin-passkey';
        return tr;
      }));
    if (f.passkeys.length === 0) {
      const none = row('td', ['No passkeys.']);
      none.firstChild.colSpan = 3;
      keys.append(none);
    }
    box.append(
      h('p', { dataset: { testid: 'admin-totp' } }, f.totp.enabled
        ? `Authenticator app (TOTP): on since ${app.formatTime(f.totp.enabledAt)}`
        : 'Authenticator app (TOTP): off'),
      h('table', { className: 'passkeys' }, h('thead', {}, row('th', ['Passkey', 'Added', 'Last used'])), keys));
  };
  return { box, load };
}

/**
 * The account's identities at other providers (GET /admin/users/{id}/identities):
 * provider, the address it gave, when linked. The section shows only when there
 * are some, as most accounts have none.
 */
function identityList(u, gen) {
  const box = h('div', { dataset: { testid: 'admin-identities', count: '0' }, hidden: true });
  const load = async () => {
    const list = await app.api('GET', `/admin/users/${encodeURIComponent(u.id)}/identities`);
    if (gen !== generation) {
      return;
    }
    box.dataset.count = String(list.length);
    if (list.length === 0) {
      return;
    }
    const body = h('tbody', {}, ...list.map((i) => {
      const tr = row('td', [i.provider, i.email || '(none given)', app.formatTime(i.createdAt)]);
      tr.dataset.testid = 'admin-identity';
      tr.dataset.provider = i.provider;
      return tr;
    }));
    box.append(h('h3', {}, 'Linked identities'),
      h('table', { className: 'identities' }, h('thead', {}, row('th', ['Provider', 'Email it gave', 'Linked'])), body));
    box.hidden = false;
  };
  return { box, load };
}

/** Security event types in words; the type itself is the cell's tooltip. */
const eventText = {
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in',
  refresh_reuse_detected: 'Refresh token reused: session revoked',
  session_revoked: 'Session revoked',
  logout_all: 'Signed out everywhere',
  reauthenticated: 'Confirmed the password',
  password_changed: 'Password changed',
  email_changed: 'Email changed',
  email_change_requested: 'Email change requested',
  email_verified: 'Address verified',
  password_reset: 'Password reset',
  admin_user_created: 'Account created by an admin',
  admin_roles_changed: 'Roles changed',
  admin_name_changed: 'Name changed',
  admin_user_disabled: 'Account disabled',
  admin_user_enabled: 'Account enabled',
  admin_email_verified_changed: 'Address verification set',
  admin_sessions_revoked: 'Every session revoked',
  admin_session_revoked: 'A session revoked by an admin',
  admin_user_deleted: 'Account deleted',
  mfa_enabled: 'Authenticator app turned on',
  mfa_disabled: 'Authenticator app turned off',
  recovery_code_used: 'Recovery code used',
  recovery_codes_regenerated: 'New recovery codes',
  passkey_added: 'Passkey added',
  passkey_removed: 'Passkey removed',
  mfa_failed: 'Wrong second-factor code',
  events_suppressed: 'Repeated events left out',
  oauth_consent_granted: 'Allowed an app',
  oauth_grant_revoked: 'Removed an app',
};

/** PATCH /admin/users/{id}, then the user page again with a message. */
async function patch(id, body, done) {
  await app.api('PATCH', `/admin/users/${encodeURIComponent(id)}`, body);
  await reload(done);
}

/** Renders the current screen again and then shows text (render clears the status). */
async function reload(text) {
  route();
  say(text, 'ok');
}

// ---------------------------------------------------------------------------------------
// Signing keys

async function renderKeys(box) {
  const gen = generation;
  const body = h('tbody', { dataset: { testid: 'admin-keys' } });
  const rotate = h('button', { type: 'button', dataset: { testid: 'admin-rotate' } }, 'Add the next key');
  rotate.addEventListener('click', action(rotate, async () => {
    const k = await app.api('POST', '/admin/keys/rotate');
    await reload(`Key ${k.kid} published; it signs from ${app.formatTime(k.activatesAt)}. Nobody is signed out.`);
  }));
  box.append(h('h2', {}, 'Signing keys'),
    h('p', { className: 'muted' }, 'A new key is published at once and starts signing later (JWT_KEY_PUBLISH_AHEAD), on every instance. Retired keys stay published until their last token has expired.'),
    h('div', { className: 'buttons' }, rotate),
    h('table', { className: 'keys' }, h('thead', {}, row('th', ['Key ID', 'Algorithm', 'State', 'Created', 'Signs from', 'Stops signing'])), body));
  const keys = await app.api('GET', '/admin/keys');
  if (gen !== generation) {
    return;
  }
  const when = (t) => (t ? app.formatTime(t) : '—');
  body.append(...keys.map((k) => {
    const tr = row('td', [h('code', {}, k.kid), k.alg, badge(k.state, k.state === 'active' ? 'ok' : 'muted'), when(k.createdAt), when(k.activatesAt), when(k.retiresAt)]);
    tr.dataset.testid = 'admin-key';
    tr.dataset.state = k.state;
    tr.dataset.kid = k.kid;
    return tr;
  }));
  body.dataset.count = String(keys.length);
}

// ---------------------------------------------------------------------------------------
// Webhook deliveries

/** The list's state: the status shown ('' for all) and the cursors before this page. */
const deliveryList = { status: 'failed', cursors: [], cursor: null };

async function renderDeliveries(box) {
  const gen = generation;
  const status = h('select', { id: 'admin-delivery-status', dataset: { testid: 'admin-delivery-status' } },
    ...[['failed', 'Failed'], ['pending', 'Pending'], ['delivered', 'Delivered'], ['', 'All']].map(([v, t]) =>
      h('option', { value: v, selected: v === deliveryList.status }, t)));
  status.addEventListener('change', () => {
    deliveryList.status = status.value;
    firstPage(deliveryList);
  });
  const body = h('tbody', { dataset: { testid: 'admin-deliveries' } });
  box.append(h('h2', {}, 'Webhook deliveries'),
    h('p', { className: 'muted' }, 'Events posted to WEBHOOK_URL. A failed delivery gave up after 24 hours of retries; “Deliver again” starts another 24 hours with the same webhook-id, so the receiver can tell a repeat.'),
    h('form', { className: 'inline' }, h('label', {}, 'Show', status)),
    h('table', { className: 'deliveries' }, h('thead', {}, row('th', ['Event', 'Type', 'Status', 'Attempts', 'Last error', 'Created', 'Next attempt', ''])), body));

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (deliveryList.status) {
    params.set('status', deliveryList.status);
  }
  if (deliveryList.cursor) {
    params.set('cursor', deliveryList.cursor);
  }
  const page = await app.api('GET', `/admin/webhooks/deliveries?${params}`);
  if (gen !== generation) {
    return;
  }
  const kinds = { delivered: 'ok', pending: 'muted', failed: 'bad' };
  body.append(...page.items.map((d) => {
    let retry = '';
    if (d.status !== 'delivered') {
      retry = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-delivery-retry' } }, 'Deliver again');
      retry.addEventListener('click', action(retry, async () => {
        await app.api('POST', `/admin/webhooks/deliveries/${encodeURIComponent(d.id)}/retry`);
        await reload(`Event ${d.id} is pending again.`);
      }));
    }
    const tr = row('td', [h('code', {}, d.id), d.type, badge(d.status, kinds[d.status] || 'muted'), String(d.attempts),
      d.lastError || '', app.formatTime(d.createdAt), d.nextAttemptAt ? app.formatTime(d.nextAttemptAt) : '—', retry]);
    tr.dataset.testid = 'admin-delivery';
    tr.dataset.id = d.id;
    tr.dataset.type = d.type;
    tr.dataset.status = d.status;
    return tr;
  }));
  if (page.items.length === 0) {
    body.append(row('td', [deliveryList.status ? `No ${deliveryList.status} deliveries.` : 'No deliveries.']));
  }
  body.dataset.count = String(page.items.length);
  box.append(pager(deliveryList, page.nextCursor));
}

// ---------------------------------------------------------------------------------------
// OpenID clients

async function renderClients(box) {
  const gen = generation;
  const body = h('tbody', { dataset: { testid: 'admin-clients' } });
  const secretBox = h('div', { className: 'secret', dataset: { testid: 'admin-secret-box' }, hidden: true });

  const name = h('input', { id: 'client-name', dataset: { testid: 'client-name' }, maxLength: 100, autocomplete: 'off' });
  const redirects = h('textarea', { id: 'client-redirects', dataset: { testid: 'client-redirects' }, rows: 2, placeholder: 'https://app.example.com/callback' });
  const logouts = h('textarea', { id: 'client-logouts', dataset: { testid: 'client-logouts' }, rows: 1 });
  const isPublic = h('input', { type: 'checkbox', id: 'client-public', dataset: { testid: 'client-public' } });
  const firstParty = h('input', { type: 'checkbox', id: 'client-first-party', dataset: { testid: 'client-first-party' } });
  const form = h('form', { dataset: { testid: 'client-form' } },
    h('h3', {}, 'Register a client'),
    h('label', {}, 'Name', name),
    h('label', {}, 'Redirect URIs (one a line; https, or http on localhost)', redirects),
    h('label', {}, 'Post-logout redirect URIs (optional, one a line)', logouts),
    h('label', { className: 'checkbox' }, isPublic, 'Public client (a single-page or native app: no secret, PKCE)'),
    h('label', { className: 'checkbox' }, firstParty, 'First party (skips the consent screen)'),
    h('div', { className: 'buttons' }, h('button', { type: 'submit', dataset: { testid: 'client-create' } }, 'Register')));
  const lines = (t) => t.value.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  form.addEventListener('submit', action(form.querySelector('button'), async () => {
    const c = await app.api('POST', '/admin/oauth-clients', {
      name: name.value.trim(), redirectUris: lines(redirects), postLogoutRedirectUris: lines(logouts),
      public: isPublic.checked, firstParty: firstParty.checked,
    });
    form.reset();
    await listClients();
    showSecret(secretBox, c);
    say(`Client ${c.name} registered`, 'ok');
  }));

  const listClients = async () => {
    const clients = await app.api('GET', '/admin/oauth-clients');
    if (gen !== generation) {
      return;
    }
    body.replaceChildren(...clients.map((c) => {
      const del = h('button', { type: 'button', className: 'danger small', dataset: { testid: 'client-delete' } }, 'Delete…');
      del.addEventListener('click', action(del, async () => {
        const ok = await confirmTyped(
          `Delete the client ${c.name}? Every token it holds stops working and its consents are deleted.`,
          'Type the client name to confirm', c.name);
        if (!ok) {
          say('Not deleted.', 'info');
          return;
        }
        await app.api('DELETE', `/admin/oauth-clients/${encodeURIComponent(c.clientId)}`);
        await listClients();
        say(`Client ${c.name} deleted`, 'ok');
      }));
      const tr = row('td', [c.name, h('code', {}, c.clientId), c.public ? 'public' : 'confidential',
        c.firstParty ? 'yes' : 'no', c.redirectUris.join('\n'), c.scopes.join(' '), app.formatTime(c.createdAt), del]);
      tr.dataset.testid = 'admin-client';
      tr.dataset.clientId = c.clientId;
      tr.dataset.name = c.name;
      return tr;
    }));
    if (clients.length === 0) {
      body.append(row('td', ['No clients yet.']));
    }
    body.dataset.count = String(clients.length);
  };

  box.append(h('h2', {}, 'OpenID clients'),
    h('p', { className: 'muted' }, 'Apps that offer “Sign in with Gatehouse”. The command line does the same: gatehouse clients create.'),
    secretBox,
    h('table', { className: 'clients' }, h('thead', {}, row('th', ['Name', 'Client ID', 'Type', 'First party', 'Redirect URIs', 'Scopes', 'Created', ''])), body),
    form);
  await listClients();
}

/**
 * Shows a new client's secret once: the service stores only its hash, so this is the
 * only time anyone sees it. "Done" (or leaving the screen) takes it out of the page.
 */
function showSecret(box, c) {
  if (!c.clientSecret) {
    box.replaceChildren(h('p', {}, `${c.name} is a public client: it has no secret and must use PKCE. Client ID: `, h('code', { dataset: { testid: 'admin-new-client-id' } }, c.clientId)));
  } else {
    const secret = h('code', { dataset: { testid: 'admin-secret' } }, c.clientSecret);
    const copy = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-secret-copy' } }, 'Copy');
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(c.clientSecret).then(() => { copy.textContent = 'Copied'; }, () => { copy.textContent = 'Select and copy it by hand'; });
    });
    box.replaceChildren(
      h('p', {}, h('strong', {}, 'Copy the client secret now: it is shown only this once.')),
      h('p', {}, 'Client ID: ', h('code', { dataset: { testid: 'admin-new-client-id' } }, c.clientId)),
      h('p', {}, 'Client secret: ', secret, ' ', copy));
  }
  const done = h('button', { type: 'button', className: 'small', dataset: { testid: 'admin-secret-done' } }, 'Done');
  done.addEventListener('click', () => {
    box.replaceChildren();
    box.hidden = true;
  });
  box.append(h('div', { className: 'buttons' }, done));
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the screens

/** A confirmation that needs `expected` typed in: resolves true or false. */
function confirmTyped(text, label, expected) {
  return new Promise((resolve) => {
    const d = els.confirm;
    els.confirmText.textContent = text;
    els.confirmLabel.firstChild.textContent = label;
    els.confirmInput.value = '';
    const submit = els.confirmForm.querySelector('[type=submit]');
    const check = () => {
      submit.disabled = els.confirmInput.value.trim() !== expected;
    };
    check();
    const finish = (ok) => {
      els.confirmForm.removeEventListener('submit', onSubmit);
      els.confirmInput.removeEventListener('input', check);
      els.confirmCancel.removeEventListener('click', onCancel);
      d.removeEventListener('cancel', onCancel);
      if (d.open) {
        d.close();
      }
      resolve(ok);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      if (els.confirmInput.value.trim() === expected) {
        finish(true);
      }
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      finish(false);
    };
    els.confirmForm.addEventListener('submit', onSubmit);
    els.confirmInput.addEventListener('input', check);
    els.confirmCancel.addEventListener('click', onCancel);
    d.addEventListener('cancel', onCancel);
    d.showModal();
    els.confirmInput.focus();
  });
}

/** A click or submit handler: button disabled while op runs, errors in the status line. */
function action(button, op) {
  return async (ev) => {
    if (ev) {
      ev.preventDefault();
    }
    button.disabled = true;
    els.status.hidden = true;
    try {
      await op();
    } catch (e) {
      fail(e);
    } finally {
      button.disabled = false;
    }
  };
}

/**
 * Paging buttons of a keyset-paged list, whose state is list.cursor (this page's) and
 * list.cursors (those of the pages before). As the API pages: forward with the page's
 * nextCursor; back by the cursors this tab remembers (the API has no "previous").
 * A button without a page to go to is off.
 */
function pager(list, nextCursor) {
  const prev = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-prev' }, disabled: list.cursors.length === 0 }, '← Previous');
  const nxt = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-next' }, disabled: !nextCursor }, 'Next →');
  if (list.cursors.length > 0) {
    prev.addEventListener('click', () => {
      list.cursor = list.cursors.pop();
      route();
    });
  }
  if (nextCursor) {
    nxt.addEventListener('click', () => {
      list.cursors.push(list.cursor);
      list.cursor = nextCursor;
      route();
    });
  }
  return h('div', { className: 'buttons pager' }, prev, h('span', { className: 'muted', dataset: { testid: 'admin-page' } }, `Page ${list.cursors.length + 1}`), nxt);
}

/** Back to a paged list's first page (its filter changed), and render it. */
function firstPage(list) {
  list.cursors = [];
  list.cursor = null;
  route();
}

function fail(e) {
  if (e && e.name === 'StepUpCancelled') {
    say('Cancelled: nothing was changed.', 'info');
    return;
  }
  if (e && e.code === 'FORBIDDEN') {
    say(`Refused: ${app.describe(e)}`);
    return;
  }
  say(app.describe(e));
}

/** Shows text in the console's status line (kind: error, ok, info). */
function say(text, kind) {
  els.status.textContent = text;
  els.status.dataset.kind = kind || 'error';
  els.status.hidden = false;
}

function badge(text, kind) {
  return h('span', { className: `badge ${kind}` }, text);
}

/** A table row of cells: strings become text, nodes are put in as they are. */
function row(cell, values) {
  return h('tr', {}, ...values.map((v) => h(cell, {}, v)));
}

/**
 * Makes an element: props are set as properties (dataset merged), children are
 * nodes or strings (as text, never HTML).
 */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) {
      el.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
  }
  return el;
}

function byId(id) {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`index.html has no #${id}`);
  }
  return el;
}
