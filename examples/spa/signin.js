// The sign-in form: password, account creation, a code or link by mail, the second
// factor (authenticator code or recovery code), "Forgot password?", passkeys, and
// sign-in with other providers. Each way ends in signedIn() of api.js with a token
// pair whose refresh token stays in the HttpOnly cookie.

import { apiBase, send, signedIn } from './api.js';
import { loadSessions } from './account.js';
import {
  b64urlToBytes, bytesToB64url, credentialJSON, loadIdentities, loadPasskeys, returnURL, setProviders,
} from './security.js';
import { busy, byId, count, report, show, showMessage } from './ui.js';

const els = {
  loginForm: byId('login-form'),
  loginEmail: byId('login-email'),
  loginPassword: byId('login-password'),
  registerName: byId('register-name'),
  registerSubmit: byId('register-submit'),
  loginError: byId('login-error'),
  passkeyLogin: byId('passkey-login'),
  mfaForm: byId('mfa-form'),
  mfaCode: byId('mfa-code'),
  mfaRecovery: byId('mfa-recovery'),
  mfaError: byId('mfa-error'),
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
  providers: byId('providers'),
  sessionsStatus: byId('sessions-status'),
  securityStatus: byId('security-status'),
};

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
export async function verifyEmailCode(proof) {
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

// ---------------------------------------------------------------------------------------
// Wiring

const loginSubmit = els.loginForm.querySelector('[type=submit]');

els.loginForm.addEventListener('submit', busy(loginSubmit, els.loginError, async () => {
  await login(els.loginEmail.value.trim(), els.loginPassword.value);
  els.loginPassword.value = '';
}));

els.registerSubmit.addEventListener('click', busy(els.registerSubmit, els.loginError, async () => {
  await register(els.loginEmail.value.trim(), els.loginPassword.value, els.registerName.value.trim());
  els.loginPassword.value = '';
}));

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

els.passkeyLogin.addEventListener('click', busy(els.passkeyLogin, els.loginError, passkeyLogin));

els.mfaForm.addEventListener('submit', busy(els.mfaForm.querySelector('[type=submit]'), els.mfaError, async () => {
  await verifyMfa(els.mfaCode.value.trim(), els.mfaRecovery.value.trim());
  els.mfaCode.value = '';
  els.mfaRecovery.value = '';
}));

// ---------------------------------------------------------------------------------------
// Sign in with other providers: the browser leaves for the provider and comes back to
// this page with a one-time code in the fragment, which only this tab can use, since
// it alone holds the PKCE verifier (sessionStorage). Errors come back the same way.

const verifierKey = 'gatehouse-example-oauth-verifier';

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

/** Offers a button per provider on the sign-in form, and hands the list to the settings. */
export async function loadProviders() {
  const providers = await send('GET', '/auth/providers');
  els.providers.replaceChildren(...providers.map((p) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.dataset.testid = `provider-${p.id}`;
    button.textContent = `Sign in with ${p.name}`;
    button.addEventListener('click', busy(button, els.loginError, () => signInWith(p)));
    return button;
  }));
  setProviders(providers);
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
export function takeProviderAnswer() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const answer = ['code', 'error', 'linked'].find((k) => params.has(k));
  if (!answer || location.hash.startsWith('#/')) {
    return null;
  }
  // Out of the address bar and the history at once: the code is a credential.
  history.replaceState(null, '', location.pathname + location.search);
  return { kind: answer, value: params.get(answer) };
}

export async function finishProvider(answer) {
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
