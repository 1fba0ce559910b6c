// Gatehouse example single-page app: the entry point that index.html loads.
//
// Plain JavaScript modules with no build step and no dependencies: copy what you need.
// Start with api.js: its header explains how a browser app holds Gatehouse's tokens
// (the access token in a variable of that module only, the refresh token in an
// HttpOnly cookie that no script here ever touches), and it holds the API client.
//
//   api.js        the API client: token in memory, silent refresh (single flight),
//                 step-up on 403 FRESH_AUTH_REQUIRED, sign-out
//   ui.js         what every part shares: messages, the activity panel, error texts,
//                 which part is on screen, the password prompt
//   signin.js     the sign-in form: password, new account, code by mail, second
//                 factor, passkey, other providers
//   account.js    the signed-in page: profile, password change, sessions
//   security.js   authenticator app, recovery codes, passkeys, linked identities
//   links.js      links from mails (#/verify-email, #/reset-password, #/email-code)
//   authorize.js  "Sign in with Gatehouse" (#/authorize?request=ID)
//   admin.js      the admin console (#/admin/...), with admin-kit.js, admin-users.js
//                 and admin-service.js
//
// This module connects the client to the page and starts: it follows the links the
// page was opened with, then restores the session from the refresh cookie.

import {
  api, connectPage, currentSessionId, currentUser, isSignedIn, pending, refreshAccessToken, shownApiBase,
} from './api.js';
import { clearSessions, loadMe, loadSessions, renderUser } from './account.js';
import { startConsole } from './admin.js';
import { maybeLoadAuthorization, watchAuthorization } from './authorize.js';
import { watchMailLinks } from './links.js';
import { loadIdentities } from './security.js';
import { finishProvider, loadProviders, takeProviderAnswer } from './signin.js';
import {
  askPassword, byId, consoleRouted, count, describe, formatTime, report, show, showMessage, stats,
} from './ui.js';

const els = {
  apiBase: byId('api-base'),
  loginError: byId('login-error'),
  sessionsStatus: byId('sessions-status'),
  securityStatus: byId('security-status'),
};

// What the page does for the client (see connectPage in api.js).
connectPage({
  count,
  askPassword,
  signedIn() {
    els.loginError.hidden = true;
    renderUser();
    show('logged-in');
    maybeLoadAuthorization();
  },
  signedOut(message, cause, wasSignedIn) {
    clearSessions();
    show('logged-out');
    if (message) {
      showMessage(els.loginError, message);
    } else {
      els.loginError.hidden = true;
    }
    if (wasSignedIn && cause) {
      count('session-ended', `Session ended (${cause.code})`);
    }
  },
});

watchAuthorization();
watchMailLinks();

const providerAnswer = takeProviderAnswer();
loadProviders().catch(report(els.loginError));

// A small handle for the browser console and for the end-to-end tests. It exposes
// operations, not the token: the token stays in api.js's variable. (A script
// injected by an XSS bug could still call these while the page is open; keeping the
// token in memory limits what it can take away, not what it can do in place.)
window.gatehouseExample = Object.freeze({
  apiBase: shownApiBase(),
  stats,
  api: (method, path, body) => api(method, path, body),
  refreshAccessToken: () => refreshAccessToken().then(() => true),
  loadMe,
  loadSessions,
  isSignedIn,
  emailVerified: () => Boolean(currentUser && currentUser.emailVerified),
  pending,
  currentSessionId: () => currentSessionId,
});

// The admin area (admin.js): same page, same session, the admin API only.
startConsole({
  api: (method, path, body) => api(method, path, body),
  describe,
  formatTime,
  isSignedIn: () => isSignedIn() && currentUser !== null,
  isAdmin: () => Boolean(currentUser && currentUser.roles && currentUser.roles.includes('admin')),
  onRoute: consoleRouted,
});

// Start: show where the API is, then try to restore the session from the cookie.
els.apiBase.textContent = shownApiBase();
show('loading');
if (providerAnswer && providerAnswer.kind !== 'linked') {
  finishProvider(providerAnswer).catch((e) => {
    show('logged-out');
    showMessage(els.loginError, describe(e));
  });
} else refreshAccessToken().then(
  () => {
    count('restored', 'Session restored from the refresh cookie (silent refresh)');
    return loadSessions();
  },
  (e) => {
    if (e.status !== 401) {
      // Not "no session" but a real problem (API unreachable, CORS, CSP): say so.
      show('logged-out');
      showMessage(els.loginError, describe(e));
    }
  },
).then(() => {
  if (isSignedIn()) {
    loadIdentities().catch(report(els.securityStatus));
  }
  if (providerAnswer) {
    finishProvider(providerAnswer).catch(report(els.securityStatus));
  }
}).catch(report(els.sessionsStatus));
