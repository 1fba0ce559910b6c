// The security settings of the account page: the authenticator app (TOTP) with its
// recovery codes, passkeys, and the identities at other providers linked to the
// account. The passkey sign-in and the provider sign-in are in signin.js; the WebAuthn
// encoding helpers here serve both.

import { api, currentUser } from './api.js';
import { busy, byId, count, formatTime } from './ui.js';

const els = {
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
  identitiesList: byId('identities-list'),
  identityLink: byId('identity-link'),
};

// ---------------------------------------------------------------------------------------
// Second factors. WebAuthn options and answers travel as JSON with binary fields in
// base64url; the browser API wants and gives ArrayBuffers.

export function b64urlToBytes(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function bytesToB64url(buf) {
  let bin = '';
  for (const b of new Uint8Array(buf)) {
    bin += String.fromCharCode(b);
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A PublicKeyCredential in the JSON form the service reads. */
export function credentialJSON(cred) {
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

export async function loadPasskeys() {
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

// ---------------------------------------------------------------------------------------
// Identities at other providers. Linking one leaves for the provider, which sends the
// browser back to this page with the outcome in the fragment (finishProvider in
// signin.js).

/** The providers of GET /auth/providers, kept for the settings' link buttons. */
let providers = [];

/** Where the provider's answer comes back to: this page, without fragment. */
export function returnURL() {
  return location.origin + location.pathname + location.search;
}

/** Keeps the providers signin.js read, and offers the ones not linked yet. */
export function setProviders(list) {
  providers = list;
  renderLinkButtons();
}

async function linkProvider(provider) {
  const { authorizationUrl } = await api('POST', `/auth/identities/${encodeURIComponent(provider.id)}`, { redirectTo: returnURL() });
  location.assign(authorizationUrl);
}

let identities = [];

export async function loadIdentities() {
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

// ---------------------------------------------------------------------------------------
// Wiring

els.totpEnroll.addEventListener('click', busy(els.totpEnroll, els.securityStatus, enrollTotp));
els.totpForm.addEventListener('submit', busy(els.totpForm.querySelector('[type=submit]'), els.securityStatus, async () => {
  await confirmTotp(els.totpCode.value.trim());
  els.totpCode.value = '';
}));
els.codesRegenerate.addEventListener('click', busy(els.codesRegenerate, els.securityStatus, regenerateCodes));
els.totpDisable.addEventListener('click', busy(els.totpDisable, els.securityStatus, disableTotp));
els.codesDownload.addEventListener('click', downloadCodes);
els.passkeyAdd.addEventListener('click', busy(els.passkeyAdd, els.securityStatus, addPasskey));
