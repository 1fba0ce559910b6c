// Gatehouse example single-page app: the API client (this module) and the rules it
// follows. app.js starts the page; the list of its modules is at the top of app.js.
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
//     #/email-code?token=... (links.js). The token is in the fragment, which the
//     browser never sends to a server (no access log, no Referer holds it); the page
//     takes it out of the address bar at once and posts it to the API.
//
//   * "Sign in with Gatehouse" (authorize.js): another app (an OpenID client) sends
//     the browser to #/authorize?request=ID. The page signs the user in with the
//     usual API (password, second factor, passkey), reads the request
//     (GET /oauth2/requests/ID), shows what the app asks for when consent is needed,
//     and accepts or rejects it with the user's access token; the answer names where
//     the browser goes next (the app's redirect URI with a one-time code). A client
//     that asks for a recent sign-in (max_age, prompt=login) gets 403
//     FRESH_AUTH_REQUIRED, and the page asks for the password again, as for any
//     sensitive call.
//
//   * When a sensitive call (password, email, account deletion) answers 403
//     FRESH_AUTH_REQUIRED, the app asks for the password, calls
//     POST /auth/reauthenticate for a fresh access token and retries the call. When
//     the challenge (WWW-Authenticate) says acr_values="aal2", it asks for the
//     authenticator code at the same time (the dialog is askPassword in ui.js).
//
//   * Administrators get an admin console at #/admin/... (admin.js): the same page,
//     session and api() as everything here, calling only the admin API.
//
// Where the API is: `?api=https://auth.example.com` in this page's URL, else the
// <meta name="gatehouse-api-base"> tag of index.html, else this page's own origin. A
// cross-origin API must list this page's origin in its CORS_ALLOWED_ORIGINS, and this
// page's Content-Security-Policy (connect-src) must allow the API's origin.


// ---------------------------------------------------------------------------------------
// Configuration

/** The API's base URL without a trailing slash; "" means this page's own origin. */
export const apiBase = resolveApiBase();

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

/** Where the API is, for people: the base URL, or this page's origin. */
export function shownApiBase() {
  return apiBase || location.origin;
}

// ---------------------------------------------------------------------------------------
// Token state: memory only (see the top of this file)

/**
 * The current access token (a JWT string), or null when signed out. Not exported:
 * other modules call api() and ask isSignedIn(); none of them ever holds the token.
 */
let accessToken = null;

/** The signed-in user as the API returned it, or null (read-only for importers). */
export let currentUser = null;

/** The session of the current access token, from the last token pair. */
export let currentSessionId = null;

/** How many requests are on the way (tests wait for 0 before they look). */
let inFlight = 0;

/** Whether there is an access token in memory. */
export function isSignedIn() {
  return accessToken !== null;
}

/** The number of requests on the way. */
export function pending() {
  return inFlight;
}

/** Replaces the signed-in user after GET /users/me or a verified address. */
export function setUser(user) {
  currentUser = user;
}

/**
 * What the page does for the client, set once by app.js with connectPage:
 * count(event, text) notes an event in the activity panel, askPassword(wantsCode,
 * attempt) is the step-up dialog, and signedIn() and signedOut(message, cause,
 * wasSignedIn) redraw the page after the session here started or ended. The client
 * itself touches no element of the page.
 */
let page = null;

export function connectPage(handlers) {
  page = handlers;
}

// ---------------------------------------------------------------------------------------
// Talking to the API

/** An error envelope from the API, or a network failure (code NETWORK_ERROR). */
export class ApiError extends Error {
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
export async function send(method, path, { body, token } = {}) {
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
export function refreshAccessToken() {
  if (refreshInFlight === null) {
    refreshInFlight = (async () => {
      try {
        // No body: the refresh token travels in the HttpOnly cookie.
        const pair = await send('POST', '/auth/refresh');
        signedIn(pair);
        page.count('refreshed', `Access token refreshed (valid for ${pair.expiresIn} s); refresh cookie rotated`);
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
    stepUpInFlight = page.askPassword(wantsCode, async (password, code) => {
      // With two-step verification on, the service wants the code too (and the
      // new token is then aal2, which changing factors needs).
      const body = { password };
      if (code) {
        body.code = code;
      }
      const pair = await api('POST', '/auth/reauthenticate', body, { stepUp: false });
      signedIn(pair);
      page.count('reauthenticated', 'Password confirmed: got a fresh access token for the same session');
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
export async function api(method, path, body, { stepUp: allowStepUp = true } = {}) {
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
        page.count('token-expired', `${method} ${path}: access token expired`);
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
        page.count('fresh-auth-required', `${method} ${path}: the service wants a recent password check`);
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

/** Ends the session at the service and here. */
export async function logout() {
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
    page.count('signed-out', 'Signed out; the service cleared the refresh cookie');
  }
}

// ---------------------------------------------------------------------------------------
// State changes

/** Keeps a token pair's access token, user and session, then redraws the page. */
export function signedIn(pair) {
  accessToken = pair.accessToken;
  currentUser = pair.user;
  currentSessionId = pair.session ? pair.session.id : null;
  page.signedIn();
}

/** Forgets the token, user and session; message (or null) says why on the sign-in form. */
export function signedOut(message, cause) {
  const wasSignedIn = currentUser !== null;
  accessToken = null;
  currentUser = null;
  currentSessionId = null;
  page.signedOut(message, cause, wasSignedIn);
}
