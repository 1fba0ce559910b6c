// "Sign in with Gatehouse": this page is also the login page of the OpenID provider.
// Another app (an OpenID client) sends the browser to #/authorize?request=ID. The page
// signs the user in with the usual API (signin.js), reads the request
// (GET /oauth2/requests/ID), shows what the app asks for when consent is needed, and
// accepts or rejects it with the user's access token; the answer names where the
// browser goes next (the app's redirect URI with a one-time code). A client that asks
// for a recent sign-in (max_age, prompt=login) gets 403 FRESH_AUTH_REQUIRED, and api()
// asks for the password again, as for any sensitive call.

import { api, isSignedIn } from './api.js';
import { busy, byId, report } from './ui.js';

const els = {
  authorizeView: byId('authorize-view'),
  authorizeClient: byId('authorize-client'),
  authorizeIntro: byId('authorize-intro'),
  authorizeConsent: byId('authorize-consent'),
  authorizeScopes: byId('authorize-scopes'),
  authorizeAllow: byId('authorize-allow'),
  authorizeDeny: byId('authorize-deny'),
  authorizeStatus: byId('authorize-status'),
};

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
export function maybeLoadAuthorization() {
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
  if (isSignedIn()) {
    maybeLoadAuthorization();
  }
}

els.authorizeAllow.addEventListener('click', busy(els.authorizeAllow, els.authorizeStatus, () => answerAuthorization('accept')));
els.authorizeDeny.addEventListener('click', busy(els.authorizeDeny, els.authorizeStatus, () => answerAuthorization('reject')));

/** Follows #/authorize?request=ID: now, and whenever the fragment changes. */
export function watchAuthorization() {
  window.addEventListener('hashchange', startAuthorization);
  startAuthorization();
}
