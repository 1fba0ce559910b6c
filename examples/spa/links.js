// Links from mails (address verification, password reset, sign-in code) open this
// page at #/verify-email?token=..., #/reset-password?token=... or
// #/email-code?token=.... The token is in the fragment, which the browser never sends
// to a server (no access log, no Referer holds it); the page takes it out of the
// address bar at once and posts it to the API.

import { currentUser, send, setUser, signedOut } from './api.js';
import { renderUser } from './account.js';
import { verifyEmailCode } from './signin.js';
import { busy, byId, count, describe, showMessage } from './ui.js';

const els = {
  linkView: byId('link-view'),
  linkTitle: byId('link-title'),
  linkStatus: byId('link-status'),
  resetForm: byId('reset-form'),
  resetPassword: byId('reset-password'),
};

async function verifyEmail(token) {
  const user = await send('POST', '/auth/email/verify', { body: { token } });
  count('email-verified', `Address ${user.email} verified`);
  if (currentUser && currentUser.id === user.id) {
    setUser(user);
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

/** Handles the link this page was opened with, and the ones pasted into this tab later. */
export function watchMailLinks() {
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
}
