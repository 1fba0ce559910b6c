// The admin console's user screens: the list of accounts (search, paging) and a user's
// page (facts, disable/enable, roles, address verification, sessions, second factors,
// linked identities, security events, sign out everywhere, delete).

import {
  PAGE, action, app, badge, confirmTyped, firstPage, flashNext, generation, h, pager, pages, reload, row, say,
} from './admin-kit.js';

/** The list's state: the search and the cursors of the pages before this one. */
const userList = { q: '', cursors: [], cursor: null };

export async function renderUsers(box) {
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

export async function renderUser(box, id) {
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
    flashNext(`${u.email} was deleted`, 'ok');
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
