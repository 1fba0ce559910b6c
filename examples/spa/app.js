// Gatehouse example single-page app.
//
// Plain JavaScript with no build step and no dependencies: copy what you need. It shows
// how a browser app should hold Gatehouse's tokens:
//
//   * The ACCESS TOKEN (a short-lived JWT) lives in a JavaScript variable of this
//     module and nowhere else: not in localStorage, not in sessionStorage, not in a
//     cookie. Anything stored there survives the page and can be read by any script
//     that runs on the origin (one XSS bug, one compromised npm package) and sent away.
//     A variable dies with the page, so a stolen copy is useful for minutes at most.
//     The price is that a reload loses the token, which is what the refresh cookie is
//     for.
//
//   * The REFRESH TOKEN (long-lived, opaque) is never seen by this code at all. Login
//     asks for `refreshTokenTransport: "cookie"`, so the service sets it in an
//     HttpOnly cookie (`refresh_token`, Path=/auth, SameSite=Strict): the browser
//     stores it and sends it to /auth/refresh and /auth/logout by itself, and
//     `document.cookie` does not show it, so page scripts cannot steal it.
//
//   * On a page load the app asks POST /auth/refresh for a new access token. The
//     cookie comes along; if the session is alive the user is signed in again without
//     typing anything ("silent refresh").
//
//   * When a call answers 401 TOKEN_EXPIRED, the app refreshes once and retries. All
//     the calls that fail at the same time share ONE refresh request (see
//     refreshAccessToken): every refresh rotates the refresh token, so parallel
//     refreshes would race each other.
//
//   * Links from mails (address verification, password reset, sign-in code) open this
//     page at #/verify-email?token=..., #/reset-password?token=... or
//     #/email-code?token=.... The token is in the
//     fragment, which the browser never sends to a server (no access log, no Referer
//     holds it); the page takes it out of the address bar at once and posts it to the
//     API.
//
//   * "Sign in with Gatehouse": another app (an OpenID client) sends the browser to
//     #/authorize?request=ID. The page signs the user in with the usual API (password,
//     second factor, passkey), reads the request (GET /oauth2/requests/ID), shows what
//     the app asks for when consent is needed, and accepts or rejects it with the
//     user's access token; the answer names where the browser goes next (the app's
//     redirect URI with a one-time code). A client that asks for a recent sign-in
//     (max_age, prompt=login) gets 403 FRESH_AUTH_REQUIRED, and the page asks for
//     the password again, as for any sensitive call.
//
//   * When a sensitive call (password, email, account deletion) answers 403
//     FRESH_AUTH_REQUIRED, the app asks for the password, calls
//     POST /auth/reauthenticate for a fresh access token and retries the call. When
//     the challenge (WWW-Authenticate) says acr_values="aal2", it asks for the
//     authenticator code at the same time.
//
//   * Administrators get an admin console at #/admin/... (admin.js): the same page,
//     session and api() as everything here, calling only the admin API.
//
// Where the API is: `?api=https://auth.example.com` in this page's URL, else the
// <meta name="gatehouse-api-base"> tag of index.html, else this page's own origin. A
// cross-origin API must list this page's origin in its CORS_ALLOWED_ORIGINS, and this
// page's Content-Security-Policy (connect-src) must allow the API's origin.

import { startConsole, sync as syncConsole } from './admin.js';

// ---------------------------------------------------------------------------------------
// Configuration

/** The API's base URL without a trailing slash; "" means this page's own origin. */
const apiBase = resolveApiBase();

function resolveApiBase() {
  const fromQuery = new URLSearchParams(location.search).get('api');
  const meta = document.querySelector('meta[name="gatehouse-api-base"]');
  const raw = (fromQuery || (meta && meta.content) || '').trim();
  if (raw === '') {
    return '';
  }
  const url = new URL(raw, location.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`API base must be an http(s) URL, got ${raw}`);
  }
  // Keep a path prefix (an API behind a proxy at /gatehouse), drop query and fragment.
  return url.origin + url.pathname.replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------
// Token state: memory only (see the top of this file)

/** The current access token (a JWT string), or null when signed out. */
let accessToken = null;

/** The signed-in user as the API returned it, or null. */
let currentUser = null;

/** Counters of what happened, for the activity panel and for tests. */
const stats = {};

/** How many requests are on the way (tests wait for 0 before they look). */
let inFlight = 0;

// ---------------------------------------------------------------------------------------
// Talking to the API

/** An error envelope from the API, or a network failure (code NETWORK_ERROR). */
class ApiError extends Error {
  constructor(status, envelope, retryAfter, challenge) {
    const err = (envelope && envelope.error) || {};
    super((envelope && envelope.message) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    // Switch on `code`, never on `message`: the codes are the stable contract.
    this.code = err.code || (status === 0 ? 'NETWORK_ERROR' : 'UNKNOWN');
    this.details = err.details || [];
    this.requestId = (envelope && envelope.requestId) || null;
    this.retryAfter = retryAfter || null;
    // The RFC 9470 challenge of a step-up: acr_values="aal2" asks for a second factor.
    this.challenge = challenge || '';
  }
}

/**
 * One HTTP call, no retries. Returns the envelope's `data`, or throws an ApiError.
 *
 * credentials: 'include' makes the browser send and accept cookies on this request
 * even when the API is on another origin (the default, 'same-origin', would drop
 * the refresh cookie for a cross-origin API: no silent refresh, no logout). For the
 * same origin it changes nothing. The service answers cross-origin requests only for
 * origins in its CORS_ALLOWED_ORIGINS, with Access-Control-Allow-Credentials.
 */
async function send(method, path, { body, token } = {}) {
  inFlight++;
  try {
    return await exchange(method, path, body, token);
  } finally {
    inFlight--;
  }
}

async function exchange(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  let res;
  try {
    res = await fetch(apiBase + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'include',
      cache: 'no-store',
    });
  } catch (e) {
    // fetch hides the reason on purpose: the network is down, or CORS or this page's
    // CSP blocked the request. The browser console says which.
    throw new ApiError(0, { message: `Cannot reach the API at ${shownApiBase()}` });
  }
  let envelope = null;
  try {
    envelope = await res.json();
  } catch (e) {
    // Not JSON (a proxy's error page, say): report the status alone.
  }
  if (!res.ok || !envelope || envelope.success !== true) {
    throw new ApiError(res.status, envelope, res.headers.get('Retry-After'), res.headers.get('WWW-Authenticate'));
  }
  return envelope.data;
}

/**
 * The promise of the refresh in flight in this tab, or null.
 *
 * Single flight: when three calls find their token expired at once, they must not
 * send three refreshes. Each refresh rotates the refresh token, and the service
 * answers a token that was already rotated with REFRESH_TOKEN_REUSED and revokes the
 * whole session, a safeguard against stolen tokens, once its short grace interval
 * (REFRESH_REUSE_GRACE, 10 s by default) is over. So the first caller starts the
 * request and every other caller awaits the same promise.
 *
 * Other tabs of the same browser share the cookie but not this variable: two tabs can
 * still refresh at the same moment. The service's grace interval covers exactly that
 * race (the slower tab gets a valid pair for the same session). To remove the race
 * altogether, wrap the request in navigator.locks.request('gatehouse-refresh', ...):
 * the second tab then waits and refreshes with the newer cookie.
 */
let refreshInFlight = null;

/** Gets a new access token with the refresh cookie; resolves to the token. */
function refreshAccessToken() {
  if (refreshInFlight === null) {
    refreshInFlight = (async () => {
      try {
        // No body: the refresh token travels in the HttpOnly cookie.
        const pair = await send('POST', '/auth/refresh');
        signedIn(pair);
        count('refreshed', `Access token refreshed (valid for ${pair.expiresIn} s); refresh cookie rotated`);
        return pair.accessToken;
      } catch (e) {
        if (e.status === 401 || e.code === 'CSRF_REJECTED') {
          // No cookie, or a session that ended (logged out elsewhere, expired, revoked,
          // REFRESH_TOKEN_REUSED): there is nothing to retry. Back to the sign-in form.
          signedOut(currentUser ? 'Your session has ended. Please sign in again.' : null, e);
        }
        throw e;
      }
    })().finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/** The promise of the password prompt in flight, or null (one prompt at a time). */
let stepUpInFlight = null;

/**
 * Asks the user for their password and trades it for a fresh access token with
 * POST /auth/reauthenticate (same session, fresh: true). Resolves to the new token;
 * rejects when the user cancels. wantsCode: the service asked for aal2, so the
 * dialog asks for the authenticator code at once.
 */
function stepUp(wantsCode) {
  if (stepUpInFlight === null) {
    stepUpInFlight = askPassword(wantsCode, async (password, code) => {
      // With two-step verification on, the service wants the code too (and the
      // new token is then aal2, which changing factors needs).
      const body = { password };
      if (code) {
        body.code = code;
      }
      const pair = await api('POST', '/auth/reauthenticate', body, { stepUp: false });
      signedIn(pair);
      count('reauthenticated', 'Password confirmed: got a fresh access token for the same session');
      return pair.accessToken;
    }).finally(() => {
      stepUpInFlight = null;
    });
  }
  return stepUpInFlight;
}

/**
 * An authenticated call: sends the access token, and deals with the answers a
 * well-behaved client must handle:
 *
 *   401 TOKEN_EXPIRED        refresh once (shared with the other calls), retry;
 *   403 FRESH_AUTH_REQUIRED  ask for the password, reauthenticate, retry;
 *   401 SESSION_REVOKED ...  the session is over: sign out locally.
 */
async function api(method, path, body, { stepUp: allowStepUp = true } = {}) {
  if (accessToken === null) {
    // Just after a page load, or after the token was dropped: try the cookie first.
    await refreshAccessToken();
  }
  let token = accessToken;
  let refreshed = false;
  let steppedUp = false;
  for (;;) {
    try {
      return await send(method, path, { body, token });
    } catch (e) {
      if (e.code === 'TOKEN_EXPIRED' && !refreshed) {
        refreshed = true;
        count('token-expired', `${method} ${path}: access token expired`);
        if (accessToken !== null && accessToken !== token) {
          // Another call of this tab refreshed while ours was on the way: no new
          // refresh needed, just retry with the newer token.
          token = accessToken;
        } else {
          token = await refreshAccessToken();
        }
        continue;
      }
      if (e.code === 'FRESH_AUTH_REQUIRED' && allowStepUp && !steppedUp) {
        steppedUp = true;
        count('fresh-auth-required', `${method} ${path}: the service wants a recent password check`);
        token = await stepUp(/acr_values="?aal2/.test(e.challenge));
        continue;
      }
      if (e.code === 'SESSION_REVOKED' || e.code === 'TOKEN_INVALID' || e.code === 'UNAUTHENTICATED') {
        signedOut('Your session has ended. Please sign in again.', e);
      }
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The operations behind the buttons

async function login(email, password) {
  // refreshTokenTransport "cookie" is the default; it is spelled out here because it
  // is the point: browsers keep the refresh token in the HttpOnly cookie.
  const data = await send('POST', '/auth/login', { body: { email, password, refreshTokenTransport: 'cookie' } });
  firstStepDone(data, 'Password accepted');
}

/**
 * Finishes the first step of a sign-in (a password, an emailed code): signed in, or,
 * when the account has two-step verification, waiting for its code.
 */
function firstStepDone(data, what) {
  if (data.mfaRequired) {
    // The first step was right; the account wants its second factor. Nothing was
    // issued yet: keep the mfaToken (5 minutes, single use) for the next step.
    pendingMfaToken = data.mfaToken;
    els.mfaForm.hidden = false;
    els.mfaCode.focus();
    count('mfa-required', `${what}; two-step verification asks for a code`);
    return;
  }
  signedIn(data);
  count('signed-in', `Signed in as ${data.user.email}; access token valid for ${data.expiresIn} s`);
  loadSessions().catch(report(els.sessionsStatus));
  loadPasskeys().catch(report(els.securityStatus));
  loadIdentities().catch(report(els.securityStatus));
}

async function requestEmailCode(email) {
  // 202 whether or not the address may sign in: the page says the same either way.
  await send('POST', '/auth/email-code', { body: { email } });
  count('code-requested', 'Asked for a sign-in code');
}

/** Signs in with {email, code} or {token} (the link's). */
async function verifyEmailCode(proof) {
  const data = await send('POST', '/auth/email-code/verify', { body: { ...proof, refreshTokenTransport: 'cookie' } });
  firstStepDone(data, 'Code accepted');
  return data;
}

/** The mfaToken of a sign-in waiting for its code, or null. */
let pendingMfaToken = null;

async function verifyMfa(code, recoveryCode) {
  const body = { mfaToken: pendingMfaToken, refreshTokenTransport: 'cookie' };
  if (recoveryCode) {
    body.recoveryCode = recoveryCode;
  } else {
    body.code = code;
  }
  const pair = await send('POST', '/auth/mfa/verify', { body });
  pendingMfaToken = null;
  els.mfaForm.hidden = true;
  signedIn(pair);
  count('signed-in', `Signed in as ${pair.user.email} with two-step verification`);
  loadSessions().catch(report(els.sessionsStatus));
  loadPasskeys().catch(report(els.securityStatus));
}

// ---------------------------------------------------------------------------------------
// Second factors. WebAuthn options and answers travel as JSON with binary fields in
// base64url; the browser API wants and gives ArrayBuffers.

function b64urlToBytes(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function bytesToB64url(buf) {
  let bin = '';
  for (const b of new Uint8Array(buf)) {
    bin += String.fromCharCode(b);
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A PublicKeyCredential in the JSON form the service reads. */
function credentialJSON(cred) {
  const r = cred.response;
  const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    if (r.getTransports) {
      response.transports = r.getTransports();
    }
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    if (r.userHandle) {
      response.userHandle = bytesToB64url(r.userHandle);
    }
  }
  return {
    id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type, response,
    clientExtensionResults: cred.getClientExtensionResults(),
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
  };
}

/** Passwordless sign-in: the authenticator offers the passkeys it holds for this site. */
async function passkeyLogin() {
  const { challengeId, options } = await send('POST', '/auth/passkeys/login/options');
  options.challenge = b64urlToBytes(options.challenge);
  for (const c of options.allowCredentials || []) {
    c.id = b64urlToBytes(c.id);
  }
  const cred = await navigator.credentials.get({ publicKey: options });
  const pair = await send('POST', '/auth/passkeys/login', {
    body: { challengeId, credential: credentialJSON(cred), refreshTokenTransport: 'cookie' },
  });
  signedIn(pair);
  count('signed-in', `Signed in as ${pair.user.email} with a passkey`);
  loadSessions().catch(report(els.sessionsStatus));
  loadPasskeys().catch(report(els.securityStatus));
}

async function addPasskey() {
  const options = await api('POST', '/auth/passkeys/registration/options', { name: 'This browser' });
  options.challenge = b64urlToBytes(options.challenge);
  options.user.id = b64urlToBytes(options.user.id);
  for (const c of options.excludeCredentials || []) {
    c.id = b64urlToBytes(c.id);
  }
  const cred = await navigator.credentials.create({ publicKey: options });
  await api('POST', '/auth/passkeys/registration', {
    credential: credentialJSON(cred), signOutOtherSessions: els.signOutOthers.checked,
  });
  count('passkey-added', 'Passkey added');
  await loadPasskeys();
}

async function loadPasskeys() {
  const list = await api('GET', '/auth/passkeys');
  const items = list.map((k) => {
    const li = document.createElement('li');
    li.dataset.testid = 'passkey';
    const used = k.lastUsedAt ? `, last used ${formatTime(k.lastUsedAt)}` : '';
    li.textContent = `${k.name} (added ${formatTime(k.createdAt)}${used}) `;
    li.append(securityButton('Remove', async () => {
      await api('DELETE', `/auth/passkeys/${encodeURIComponent(k.id)}`);
      count('passkey-removed', 'Passkey removed');
      await loadPasskeys();
    }));
    return li;
  });
  els.passkeysList.replaceChildren(...items);
  els.passkeysList.dataset.count = String(list.length);
}

async function enrollTotp() {
  const e = await api('POST', '/auth/mfa/totp');
  els.totpQr.src = e.qrCode; // a data: URL; the page's CSP allows img-src data:
  els.totpSecret.textContent = e.secret;
  els.totpForm.hidden = false;
  els.totpCode.focus();
}

async function confirmTotp(code) {
  const { recoveryCodes } = await api('POST', '/auth/mfa/totp/confirm', {
    code, signOutOtherSessions: els.signOutOthers.checked,
  });
  els.totpForm.hidden = true;
  els.totpSecret.textContent = '';
  showCodes(recoveryCodes);
  count('mfa-enabled', 'Two-step verification is on');
}

async function regenerateCodes() {
  const { recoveryCodes } = await api('POST', '/auth/mfa/recovery-codes');
  showCodes(recoveryCodes);
  count('codes-regenerated', 'New recovery codes; the old ones no longer work');
}

async function disableTotp() {
  await api('DELETE', '/auth/mfa/totp');
  els.codesView.hidden = true;
  count('mfa-disabled', 'Two-step verification is off');
}

/** The recovery codes last shown, for the download button. */
let shownCodes = [];

function showCodes(codes) {
  shownCodes = codes;
  els.codesList.replaceChildren(...codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = c;
    return li;
  }));
  els.codesView.hidden = false;
}

/** Saves the codes as a text file; they exist nowhere else once this page closes. */
function downloadCodes() {
  const text = `Gatehouse recovery codes for ${currentUser ? currentUser.email : ''}\n` +
    'Each code works once.\n\n' + shownCodes.join('\n') + '\n';
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  a.download = 'gatehouse-recovery-codes.txt';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  count('codes-downloaded', 'Recovery codes downloaded');
}

async function register(email, password, name) {
  const body = { email, password, refreshTokenTransport: 'cookie' };
  if (name) {
    body.name = name; // optional; when given it must be 1 to 100 characters
  }
  const pair = await send('POST', '/auth/register', { body });
  signedIn(pair);
  count('registered', `Account created for ${pair.user.email}`);
  loadSessions().catch(report(els.sessionsStatus));
}

async function forgotPassword(email) {
  // 202 whether or not the address has an account: the page says the same either way.
  await send('POST', '/auth/password/forgot', { body: { email } });
  count('forgot', 'Asked for a password-reset link');
}

async function verifyEmail(token) {
  const user = await send('POST', '/auth/email/verify', { body: { token } });
  count('email-verified', `Address ${user.email} verified`);
  if (currentUser && currentUser.id === user.id) {
    currentUser = user;
    renderUser();
  }
  return user;
}

async function resetPassword(token, newPassword) {
  await send('POST', '/auth/password/reset', { body: { token, newPassword } });
  // Every session of the account ended, this browser's included.
  signedOut(null);
  count('password-reset', 'Password reset; every session was signed out');
}

async function requestVerification() {
  await api('POST', '/auth/email/verification');
  count('verification-requested', 'Verification link requested');
}

async function loadMe() {
  const user = await api('GET', '/users/me');
  currentUser = user;
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

async function loadSessions() {
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

async function logout() {
  try {
    // The cookie tells the service which session to end (the bearer token is the
    // fallback when there is no cookie); the answer clears the cookie.
    await send('POST', '/auth/logout', { token: accessToken });
  } catch (e) {
    if (e.status !== 401) {
      throw e; // a 401 means there was no session left to end: signed out all the same
    }
  } finally {
    // Whatever the answer, forget the token here.
    signedOut(null);
    count('signed-out', 'Signed out; the service cleared the refresh cookie');
  }
}

// ---------------------------------------------------------------------------------------
// State changes

/** The session of the current access token, from the last token pair. */
let currentSessionId = null;

function signedIn(pair) {
  accessToken = pair.accessToken;
  currentUser = pair.user;
  currentSessionId = pair.session ? pair.session.id : null;
  els.loginError.hidden = true;
  renderUser();
  show('logged-in');
  maybeLoadAuthorization();
}

function signedOut(message, cause) {
  const wasSignedIn = currentUser !== null;
  accessToken = null;
  currentUser = null;
  currentSessionId = null;
  els.sessionsList.replaceChildren();
  show('logged-out');
  if (message) {
    showMessage(els.loginError, message);
  } else {
    els.loginError.hidden = true;
  }
  if (wasSignedIn && cause) {
    count('session-ended', `Session ended (${cause.code})`);
  }
}

// ---------------------------------------------------------------------------------------
// Rendering (textContent only: values from the API, such as a user agent, are never
// parsed as HTML)

const els = {
  apiBase: byId('api-base'),
  loading: byId('loading'),
  loginView: byId('login-view'),
  loginForm: byId('login-form'),
  loginEmail: byId('login-email'),
  loginPassword: byId('login-password'),
  registerName: byId('register-name'),
  registerSubmit: byId('register-submit'),
  loginError: byId('login-error'),
  appView: byId('app-view'),
  userEmail: byId('user-email'),
  userName: byId('user-name'),
  userId: byId('user-id'),
  reloadMe: byId('reload-me'),
  logout: byId('logout'),
  passwordForm: byId('password-form'),
  currentPassword: byId('current-password'),
  newPassword: byId('new-password'),
  passwordStatus: byId('password-status'),
  sessionsLoad: byId('sessions-load'),
  sessionsList: byId('sessions-list'),
  sessionsStatus: byId('sessions-status'),
  activity: byId('activity'),
  reauthDialog: byId('reauth-dialog'),
  reauthForm: byId('reauth-form'),
  reauthPassword: byId('reauth-password'),
  reauthCode: byId('reauth-code'),
  reauthText: byId('reauth-text'),
  passkeyLogin: byId('passkey-login'),
  mfaForm: byId('mfa-form'),
  mfaCode: byId('mfa-code'),
  mfaRecovery: byId('mfa-recovery'),
  mfaError: byId('mfa-error'),
  totpEnroll: byId('totp-enroll'),
  totpForm: byId('totp-form'),
  totpQr: byId('totp-qr'),
  totpSecret: byId('totp-secret'),
  totpCode: byId('totp-code'),
  codesRegenerate: byId('codes-regenerate'),
  totpDisable: byId('totp-disable'),
  codesView: byId('codes-view'),
  codesList: byId('codes-list'),
  codesDownload: byId('codes-download'),
  passkeysList: byId('passkeys-list'),
  passkeyAdd: byId('passkey-add'),
  signOutOthers: byId('sign-out-others'),
  securityStatus: byId('security-status'),
  reauthError: byId('reauth-error'),
  reauthCancel: byId('reauth-cancel'),
  linkView: byId('link-view'),
  linkTitle: byId('link-title'),
  linkStatus: byId('link-status'),
  resetForm: byId('reset-form'),
  resetPassword: byId('reset-password'),
  codeOpen: byId('code-open'),
  codeForm: byId('code-form'),
  codeEmail: byId('code-email'),
  codeSend: byId('code-send'),
  codeValue: byId('code-value'),
  codeStatus: byId('code-status'),
  forgotOpen: byId('forgot-open'),
  forgotForm: byId('forgot-form'),
  forgotEmail: byId('forgot-email'),
  forgotStatus: byId('forgot-status'),
  userVerified: byId('user-verified'),
  resendVerification: byId('resend-verification'),
  verifyStatus: byId('verify-status'),
  authorizeView: byId('authorize-view'),
  authorizeClient: byId('authorize-client'),
  authorizeIntro: byId('authorize-intro'),
  authorizeConsent: byId('authorize-consent'),
  authorizeScopes: byId('authorize-scopes'),
  authorizeAllow: byId('authorize-allow'),
  authorizeDeny: byId('authorize-deny'),
  authorizeStatus: byId('authorize-status'),
  providers: byId('providers'),
  identitiesList: byId('identities-list'),
  identityLink: byId('identity-link'),
};

function byId(id) {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`index.html has no #${id}`);
  }
  return el;
}

function shownApiBase() {
  return apiBase || location.origin;
}

/** Whether the admin console (#/admin/...) is on screen instead of the account page. */
let consoleShown = false;

/** state: "loading", "logged-in" or "logged-out"; tests wait on body[data-state]. */
function show(state) {
  document.body.dataset.state = state;
  els.loading.hidden = state !== 'loading';
  els.loginView.hidden = state !== 'logged-out';
  els.appView.hidden = state !== 'logged-in' || consoleShown;
  syncConsole();
}

function renderUser() {
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

function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function showMessage(el, text, kind) {
  el.textContent = text;
  el.hidden = false;
  el.dataset.kind = kind || 'error';
}

/** Appends a line to the activity panel and counts it in stats. */
function count(event, text) {
  stats[event] = (stats[event] || 0) + 1;
  const li = document.createElement('li');
  li.dataset.event = event;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  li.append(time, ' ', text);
  els.activity.prepend(li);
  while (els.activity.childElementCount > 50) {
    els.activity.lastElementChild.remove();
  }
}

/** A human text for an error, with the request ID to quote to the operator. */
function describe(e) {
  if (!(e instanceof ApiError)) {
    return String(e && e.message ? e.message : e);
  }
  let text = e.message;
  if (e.details.length > 0) {
    text += ': ' + e.details.map((d) => `${d.field} ${d.message}`).join('; ');
  }
  if (e.code === 'TOO_MANY_REQUESTS' && e.retryAfter) {
    text += ` (try again in ${e.retryAfter} s)`;
  }
  if (e.requestId) {
    text += ` [request ${e.requestId}]`;
  }
  return text;
}

/** A catch handler that shows the error in el (and not at all when the user cancelled). */
function report(el) {
  return (e) => {
    if (e && e.name === 'StepUpCancelled') {
      showMessage(el, 'Cancelled.', 'info');
      return;
    }
    if (document.body.dataset.state === 'logged-out' && el !== els.loginError) {
      return; // the sign-in form already says why
    }
    showMessage(el, describe(e));
    count('error', `${e.code || 'error'}: ${describe(e)}`);
  };
}

// ---------------------------------------------------------------------------------------
// The password prompt (a modal <dialog>)

/**
 * Shows the dialog; on submit runs attempt(password). Resolves with its result; a
 * wrong password keeps the dialog open with a message; Cancel (or Esc) rejects with
 * an error named StepUpCancelled.
 */
function askPassword(wantsCode, attempt) {
  return new Promise((resolve, reject) => {
    const dialog = els.reauthDialog;
    els.reauthError.hidden = true;
    els.reauthPassword.value = '';
    // acr_values="aal2": the password alone will not do; say so before the first try.
    dialog.dataset.aal2 = String(Boolean(wantsCode));
    els.reauthText.textContent = wantsCode
      ? 'This action needs your password and a code from your authenticator app.'
      : 'This action needs a recent password check. Enter your password to continue.';
    els.reauthCode.required = Boolean(wantsCode);

    const finish = (fn, value) => {
      els.reauthForm.removeEventListener('submit', onSubmit);
      els.reauthCancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      els.reauthPassword.value = ''; // do not leave the password in the DOM
      els.reauthCode.value = '';
      if (dialog.open) {
        dialog.close();
      }
      fn(value);
    };
    const onSubmit = async (ev) => {
      ev.preventDefault();
      const submit = els.reauthForm.querySelector('[type=submit]');
      submit.disabled = true;
      try {
        finish(resolve, await attempt(els.reauthPassword.value, els.reauthCode.value.trim()));
      } catch (e) {
        if (['INVALID_CREDENTIALS', 'VALIDATION_FAILED', 'TOO_MANY_REQUESTS', 'MFA_CODE_INVALID'].includes(e.code)) {
          const codeWanted = e.details.some((d) => d.field === 'code');
          showMessage(els.reauthError, codeWanted ? 'Enter the code from your authenticator app.'
            : e.code === 'VALIDATION_FAILED' ? 'Enter your password.' : describe(e));
          els.reauthPassword.select();
        } else {
          finish(reject, e);
        }
      } finally {
        submit.disabled = false;
      }
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      const err = new Error('Password check cancelled');
      err.name = 'StepUpCancelled';
      finish(reject, err);
    };

    els.reauthForm.addEventListener('submit', onSubmit);
    els.reauthCancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel); // the Esc key
    dialog.showModal();
    els.reauthPassword.focus();
  });
}

// ---------------------------------------------------------------------------------------
// Wiring

/** Runs op while button is disabled (no double submits); errors go to statusEl. */
function busy(button, statusEl, op) {
  return async (ev) => {
    if (ev) {
      ev.preventDefault();
    }
    button.disabled = true;
    statusEl.hidden = true;
    try {
      await op();
    } catch (e) {
      report(statusEl)(e);
    } finally {
      button.disabled = false;
    }
  };
}

/**
 * A small button on a row of the security settings (a passkey, a linked identity) that
 * runs op, off while it runs, its failure shown in the security status.
 */
function securityButton(label, op) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary small';
  button.textContent = label;
  button.addEventListener('click', busy(button, els.securityStatus, op));
  return button;
}

const loginSubmit = els.loginForm.querySelector('[type=submit]');

els.loginForm.addEventListener('submit', busy(loginSubmit, els.loginError, async () => {
  await login(els.loginEmail.value.trim(), els.loginPassword.value);
  els.loginPassword.value = '';
}));

els.registerSubmit.addEventListener('click', busy(els.registerSubmit, els.loginError, async () => {
  await register(els.loginEmail.value.trim(), els.loginPassword.value, els.registerName.value.trim());
  els.loginPassword.value = '';
}));

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

els.codeOpen.addEventListener('click', () => {
  els.codeForm.hidden = false;
  els.codeEmail.value = els.loginEmail.value.trim();
  els.codeEmail.focus();
});

els.codeSend.addEventListener('click', busy(els.codeSend, els.codeStatus, async () => {
  await requestEmailCode(els.codeEmail.value.trim());
  showMessage(els.codeStatus, 'If this address may sign in, a code is on its way. Check your mail.', 'ok');
  els.codeValue.focus();
}));

els.codeForm.addEventListener('submit', busy(
  els.codeForm.querySelector('[type=submit]'), els.codeStatus, async () => {
    try {
      await verifyEmailCode({ email: els.codeEmail.value.trim(), code: els.codeValue.value.trim() });
    } finally {
      els.codeValue.value = '';
    }
    els.codeForm.hidden = true;
  }));

els.forgotOpen.addEventListener('click', () => {
  els.forgotForm.hidden = false;
  els.forgotEmail.value = els.loginEmail.value.trim();
  els.forgotEmail.focus();
});

els.forgotForm.addEventListener('submit', busy(
  els.forgotForm.querySelector('[type=submit]'), els.forgotStatus, async () => {
    await forgotPassword(els.forgotEmail.value.trim());
    showMessage(els.forgotStatus, 'If this address has an account, a reset link is on its way. Check your mail.', 'ok');
  }));

els.resendVerification.addEventListener('click', busy(els.resendVerification, els.verifyStatus, async () => {
  await requestVerification();
  showMessage(els.verifyStatus, 'A verification link is on its way. Check your mail.', 'ok');
}));

// ---------------------------------------------------------------------------------------
// "Sign in with Gatehouse": the login page of the OpenID provider

/** The request another app sent the browser with: {id}, or null. */
let authorization = null;

/** What each scope lets the app see, for the consent screen. */
const scopeText = {
  openid: 'Know who you are (your account ID)',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay signed in while you are away',
};

function takeAuthorization() {
  const m = /^#\/authorize\?(.*)$/.exec(location.hash);
  if (!m) {
    return null;
  }
  const id = new URLSearchParams(m[1]).get('request');
  return id ? { id } : null;
}

/**
 * Once signed in, reads the pending request (once: a refresh or a step-up signs
 * in again while it is on the way).
 */
function maybeLoadAuthorization() {
  if (!authorization || authorization.loading) {
    return;
  }
  authorization.loading = true;
  loadAuthorization().catch((e) => {
    if (authorization) {
      authorization.loading = false;
    }
    report(els.authorizeStatus)(e);
  });
}

/** Reads the pending request and accepts it, or asks for consent first. */
async function loadAuthorization() {
  const req = await api('GET', `/oauth2/requests/${encodeURIComponent(authorization.id)}`);
  els.authorizeClient.textContent = req.client.name;
  els.authorizeIntro.hidden = true;
  if (!req.consentRequired) {
    return answerAuthorization('accept');
  }
  els.authorizeScopes.replaceChildren(...req.scopes.map((s) => {
    const li = document.createElement('li');
    li.textContent = scopeText[s] || s;
    return li;
  }));
  els.authorizeConsent.hidden = false;
  els.authorizeView.dataset.step = 'consent';
}

/** Accepts or rejects the request and follows the answer to the app. */
async function answerAuthorization(verb) {
  const { redirectTo } = await api('POST', `/oauth2/requests/${encodeURIComponent(authorization.id)}/${verb}`);
  authorization = null;
  els.authorizeView.dataset.step = 'done';
  location.assign(redirectTo);
}

function startAuthorization() {
  authorization = takeAuthorization();
  if (!authorization) {
    return;
  }
  els.authorizeView.hidden = false;
  els.authorizeView.dataset.step = 'sign-in';
  if (accessToken) {
    maybeLoadAuthorization();
  }
}

els.authorizeAllow.addEventListener('click', busy(els.authorizeAllow, els.authorizeStatus, () => answerAuthorization('accept')));
els.authorizeDeny.addEventListener('click', busy(els.authorizeDeny, els.authorizeStatus, () => answerAuthorization('reject')));
window.addEventListener('hashchange', startAuthorization);
startAuthorization();

// ---------------------------------------------------------------------------------------
// Links from mails

/** The link this page was opened with: {route, token}, or null. */
function takeMailLink() {
  const m = /^#\/(verify-email|reset-password|email-code)\?(.*)$/.exec(location.hash);
  if (!m) {
    return null;
  }
  const token = new URLSearchParams(m[2]).get('token') || '';
  // Out of the address bar and the history at once: the token is a credential.
  history.replaceState(null, '', location.pathname + location.search);
  return { route: m[1], token };
}

/** Shows the outcome of a link in the link card; result goes to data-result for tests. */
function linkOutcome(result, text, kind) {
  els.linkView.dataset.result = result;
  showMessage(els.linkStatus, text, kind);
}

function linkError(e) {
  if (e.code === 'EMAIL_LINK_INVALID' || e.code === 'EMAIL_CODE_INVALID' || e.code === 'VALIDATION_FAILED' && e.details.some((d) => d.field === 'token')) {
    return 'This link is invalid, was already used, or has expired. Ask for a new one.';
  }
  return describe(e);
}

/** The token of the reset link being handled, for the reset form. */
let resetToken = null;

function handleMailLink(link) {
  els.linkView.hidden = false;
  els.linkStatus.hidden = true;
  delete els.linkView.dataset.result;
  if (link.route === 'verify-email') {
    els.linkTitle.textContent = 'Confirm your email address';
    els.resetForm.hidden = true;
    verifyEmail(link.token).then(
      (user) => linkOutcome('verified', `Thank you: ${user.email} is verified.`, 'ok'),
      (e) => linkOutcome('failed', linkError(e)),
    );
    return;
  }
  if (link.route === 'email-code') {
    els.linkTitle.textContent = 'Sign in';
    els.resetForm.hidden = true;
    verifyEmailCode({ token: link.token }).then(
      (data) => linkOutcome(data.mfaRequired ? 'mfa-required' : 'signed-in',
        data.mfaRequired ? 'Link accepted: enter the code from your authenticator app.' : `Signed in as ${data.user.email}.`, 'ok'),
      (e) => linkOutcome('failed', linkError(e)),
    );
    return;
  }
  els.linkTitle.textContent = 'Choose a new password';
  resetToken = link.token;
  els.resetForm.hidden = false;
  els.resetPassword.focus();
}

els.resetForm.addEventListener('submit', busy(
  els.resetForm.querySelector('[type=submit]'), els.linkStatus, async () => {
    try {
      await resetPassword(resetToken, els.resetPassword.value);
    } catch (e) {
      if (e.code === 'EMAIL_LINK_INVALID') {
        els.resetForm.hidden = true;
        linkOutcome('failed', linkError(e));
        return;
      }
      throw e; // a weak password: shown, and the link can be used again
    } finally {
      els.resetPassword.value = '';
    }
    resetToken = null;
    els.resetForm.hidden = true;
    linkOutcome('reset', 'Your password was changed and every session was signed out. Sign in with the new password.', 'ok');
  }));

// A link pasted into this tab changes only the fragment: no reload, so listen.
window.addEventListener('hashchange', () => {
  const link = takeMailLink();
  if (link) {
    handleMailLink(link);
  }
});

const mailLink = takeMailLink();
if (mailLink) {
  handleMailLink(mailLink);
}
els.passkeyLogin.addEventListener('click', busy(els.passkeyLogin, els.loginError, passkeyLogin));

els.mfaForm.addEventListener('submit', busy(els.mfaForm.querySelector('[type=submit]'), els.mfaError, async () => {
  await verifyMfa(els.mfaCode.value.trim(), els.mfaRecovery.value.trim());
  els.mfaCode.value = '';
  els.mfaRecovery.value = '';
}));

els.totpEnroll.addEventListener('click', busy(els.totpEnroll, els.securityStatus, enrollTotp));
els.totpForm.addEventListener('submit', busy(els.totpForm.querySelector('[type=submit]'), els.securityStatus, async () => {
  await confirmTotp(els.totpCode.value.trim());
  els.totpCode.value = '';
}));
els.codesRegenerate.addEventListener('click', busy(els.codesRegenerate, els.securityStatus, regenerateCodes));
els.totpDisable.addEventListener('click', busy(els.totpDisable, els.securityStatus, disableTotp));
els.codesDownload.addEventListener('click', downloadCodes);
els.passkeyAdd.addEventListener('click', busy(els.passkeyAdd, els.securityStatus, addPasskey));

// ---------------------------------------------------------------------------------------
// Sign in with other providers: the browser leaves for the provider and comes back to
// this page with a one-time code in the fragment, which only this tab can use, since
// it alone holds the PKCE verifier (sessionStorage). Errors come back the same way.

const verifierKey = 'gatehouse-example-oauth-verifier';

/** The providers of GET /auth/providers, kept for the settings' link buttons. */
let providers = [];

/** Where the provider's answer comes back to: this page, without fragment. */
function returnURL() {
  return location.origin + location.pathname + location.search;
}

async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return bytesToB64url(digest);
}

async function signInWith(provider) {
  const verifier = bytesToB64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem(verifierKey, verifier);
  const challenge = await pkceChallenge(verifier);
  const q = new URLSearchParams({ redirectTo: returnURL(), codeChallenge: challenge });
  location.assign(`${apiBase}/auth/oauth/${encodeURIComponent(provider.id)}/authorize?${q}`);
}

async function linkProvider(provider) {
  const { authorizationUrl } = await api('POST', `/auth/identities/${encodeURIComponent(provider.id)}`, { redirectTo: returnURL() });
  location.assign(authorizationUrl);
}

async function loadProviders() {
  providers = await send('GET', '/auth/providers');
  els.providers.replaceChildren(...providers.map((p) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.dataset.testid = `provider-${p.id}`;
    button.textContent = `Sign in with ${p.name}`;
    button.addEventListener('click', busy(button, els.loginError, () => signInWith(p)));
    return button;
  }));
  renderLinkButtons();
}

/** The identities linked to the account, for the settings. */
let identities = [];

async function loadIdentities() {
  identities = await api('GET', '/auth/identities');
  els.identitiesList.replaceChildren(...identities.map((i) => {
    const li = document.createElement('li');
    li.dataset.testid = 'identity';
    li.dataset.provider = i.provider;
    li.textContent = `${i.provider}${i.email ? ` (${i.email})` : ''}, linked ${formatTime(i.createdAt)} `;
    li.append(securityButton('Unlink', async () => {
      await api('DELETE', `/auth/identities/${encodeURIComponent(i.id)}`);
      count('identity-unlinked', `Unlinked ${i.provider}`);
      await loadIdentities();
    }));
    return li;
  }));
  els.identitiesList.dataset.count = String(identities.length);
  renderLinkButtons();
}

function renderLinkButtons() {
  const linked = new Set(identities.map((i) => i.provider));
  els.identityLink.replaceChildren(...providers.filter((p) => !linked.has(p.id)).map((p) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.testid = `link-${p.id}`;
    button.textContent = `Link ${p.name}`;
    button.addEventListener('click', busy(button, els.securityStatus, () => linkProvider(p)));
    return button;
  }));
}

const providerErrors = {
  OAUTH_DENIED: 'Sign-in was cancelled at the provider.',
  OAUTH_FAILED: 'Sign-in with the provider could not finish. Try again.',
  OAUTH_ACCOUNT_EXISTS: 'An account with this email address exists. Sign in to it, then link the provider from the settings.',
  OAUTH_IDENTITY_TAKEN: 'That account at the provider is linked to another account here.',
  OAUTH_EMAIL_REQUIRED: 'The provider gave no email address.',
  USER_DISABLED: 'This account is disabled.',
  SIGNUP_REJECTED: 'Sign-up is not allowed for this address.',
};

/** The provider's answer this page was opened with ({code}, {error}, {linked}), or null. */
function takeProviderAnswer() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const answer = ['code', 'error', 'linked'].find((k) => params.has(k));
  if (!answer || location.hash.startsWith('#/')) {
    return null;
  }
  // Out of the address bar and the history at once: the code is a credential.
  history.replaceState(null, '', location.pathname + location.search);
  return { kind: answer, value: params.get(answer) };
}

async function finishProvider(answer) {
  if (answer.kind === 'error') {
    sessionStorage.removeItem(verifierKey);
    show('logged-out');
    showMessage(els.loginError, providerErrors[answer.value] || answer.value);
    return;
  }
  if (answer.kind === 'linked') {
    count('identity-linked', `Linked ${answer.value}`);
    return;
  }
  const codeVerifier = sessionStorage.getItem(verifierKey) || '';
  sessionStorage.removeItem(verifierKey);
  const data = await send('POST', '/auth/oauth/token', {
    body: { code: answer.value, codeVerifier, refreshTokenTransport: 'cookie' },
  });
  if (data.mfaRequired) {
    show('logged-out');
    pendingMfaToken = data.mfaToken;
    els.mfaForm.hidden = false;
    els.mfaCode.focus();
    count('mfa-required', 'Signed in at the provider; two-step verification asks for a code');
    return;
  }
  signedIn(data);
  count('signed-in', `Signed in as ${data.user.email} through a provider`);
  loadSessions().catch(report(els.sessionsStatus));
  loadPasskeys().catch(report(els.securityStatus));
  loadIdentities().catch(report(els.securityStatus));
}

const providerAnswer = takeProviderAnswer();
loadProviders().catch(report(els.loginError));

// A small handle for the browser console and for the end-to-end tests. It exposes
// operations, not the token: the token stays in this module's variable. (A script
// injected by an XSS bug could still call these while the page is open; keeping the
// token in memory limits what it can take away, not what it can do in place.)
window.gatehouseExample = Object.freeze({
  apiBase: shownApiBase(),
  stats,
  api: (method, path, body) => api(method, path, body),
  refreshAccessToken: () => refreshAccessToken().then(() => true),
  loadMe,
  loadSessions,
  isSignedIn: () => accessToken !== null,
  emailVerified: () => Boolean(currentUser && currentUser.emailVerified),
  pending: () => inFlight,
  currentSessionId: () => currentSessionId,
});

// The admin area (admin.js): same page, same session, the admin API only.
startConsole({
  api: (method, path, body) => api(method, path, body),
  describe,
  formatTime,
  isSignedIn: () => accessToken !== null && currentUser !== null,
  isAdmin: () => Boolean(currentUser && currentUser.roles && currentUser.roles.includes('admin')),
  onRoute: (active) => {
    consoleShown = active;
    document.body.dataset.console = String(active);
    els.appView.hidden = document.body.dataset.state !== 'logged-in' || active;
  },
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
  if (accessToken) {
    loadIdentities().catch(report(els.securityStatus));
  }
  if (providerAnswer) {
    finishProvider(providerAnswer).catch(report(els.securityStatus));
  }
}).catch(report(els.sessionsStatus));
