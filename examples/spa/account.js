// The account page of a signed-in user: who they are, whether the address is
// verified, the password change, the sessions (with revocation) and sign-out. The
// security settings of the same page are in security.js.

import { api, currentSessionId, currentUser, logout, setUser, signedOut } from './api.js';
import { busy, byId, count, formatTime, report, showMessage } from './ui.js';

const els = {
  userEmail: byId('user-email'),
  userName: byId('user-name'),
  userId: byId('user-id'),
  userVerified: byId('user-verified'),
  resendVerification: byId('resend-verification'),
  verifyStatus: byId('verify-status'),
  reloadMe: byId('reload-me'),
  logout: byId('logout'),
  loginError: byId('login-error'),
  passwordForm: byId('password-form'),
  currentPassword: byId('current-password'),
  newPassword: byId('new-password'),
  passwordStatus: byId('password-status'),
  sessionsLoad: byId('sessions-load'),
  sessionsList: byId('sessions-list'),
  sessionsStatus: byId('sessions-status'),
};

async function requestVerification() {
  await api('POST', '/auth/email/verification');
  count('verification-requested', 'Verification link requested');
}

export async function loadMe() {
  const user = await api('GET', '/users/me');
  setUser(user);
  renderUser();
  count('profile', 'GET /users/me answered');
  return user;
}

async function changePassword(currentPassword, newPassword) {
  // Sensitive: needs a fresh token. A token that came from /auth/refresh is not fresh,
  // so this often answers FRESH_AUTH_REQUIRED first; api() handles that.
  await api('PUT', '/users/me/password', { currentPassword, newPassword });
  count('password-changed', 'Password changed; every other session was signed out');
}

export async function loadSessions() {
  const sessions = await api('GET', '/auth/sessions');
  renderSessions(sessions);
  return sessions;
}

async function revokeSession(id) {
  await api('DELETE', `/auth/sessions/${encodeURIComponent(id)}`);
  const own = currentUser && currentSessionId === id;
  count('session-revoked', own ? 'Revoked this session' : `Revoked session ${id}`);
  if (own) {
    signedOut('You revoked this session.');
    return;
  }
  await loadSessions();
}

export function renderUser() {
  els.userEmail.textContent = currentUser ? currentUser.email : '';
  els.userName.textContent = currentUser ? currentUser.name || '(none)' : '';
  els.userId.textContent = currentUser ? currentUser.id : '';
  const verified = Boolean(currentUser && currentUser.emailVerified);
  els.userVerified.textContent = currentUser ? (verified ? 'verified' : 'not verified yet') : '';
  els.userVerified.dataset.verified = String(verified);
  els.resendVerification.hidden = !currentUser || verified;
  for (const el of document.querySelectorAll('input.username')) {
    el.value = currentUser ? currentUser.email : '';
  }
}

function renderSessions(sessions) {
  const rows = sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'session-row';
    tr.dataset.sessionId = s.id;
    tr.dataset.current = String(s.current);
    const cells = [
      formatTime(s.createdAt),
      formatTime(s.lastUsedAt),
      // A session another app holds through "Sign in with Gatehouse" names it.
      s.client ? `${s.client.name} (signed in with Gatehouse)` : s.userAgent || '(unknown)',
      s.ip,
    ].map((text) => {
      const td = document.createElement('td');
      td.textContent = text;
      return td;
    });
    const action = document.createElement('td');
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'this device';
      action.append(badge, ' ');
    }
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary small';
    button.dataset.testid = 'revoke-session';
    button.textContent = s.current ? 'Sign out here' : 'Revoke';
    button.addEventListener('click', () => {
      button.disabled = true;
      revokeSession(s.id).catch(report(els.sessionsStatus)).finally(() => {
        button.disabled = false;
      });
    });
    action.append(button);
    cells.push(action);
    tr.append(...cells);
    return tr;
  });
  els.sessionsList.replaceChildren(...rows);
  els.sessionsList.dataset.count = String(sessions.length);
}

/** Empties the sessions table (signed out: they belong to nobody on this page). */
export function clearSessions() {
  els.sessionsList.replaceChildren();
}

// ---------------------------------------------------------------------------------------
// Wiring

els.reloadMe.addEventListener('click', busy(els.reloadMe, els.sessionsStatus, loadMe));

els.logout.addEventListener('click', busy(els.logout, els.loginError, logout));

els.passwordForm.addEventListener('submit', busy(
  els.passwordForm.querySelector('[type=submit]'), els.passwordStatus, async () => {
    await changePassword(els.currentPassword.value, els.newPassword.value);
    els.currentPassword.value = '';
    els.newPassword.value = '';
    showMessage(els.passwordStatus, 'Password changed. Your other sessions were signed out.', 'ok');
    await loadSessions();
  }));

els.sessionsLoad.addEventListener('click', busy(els.sessionsLoad, els.sessionsStatus, loadSessions));

els.resendVerification.addEventListener('click', busy(els.resendVerification, els.verifyStatus, async () => {
  await requestVerification();
  showMessage(els.verifyStatus, 'A verification link is on its way. Check your mail.', 'ok');
}));
