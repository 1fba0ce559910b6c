// What the whole page shares: element lookup, messages, the activity panel, error
// texts, which part of the page is on screen, the busy wrapper of buttons, and the
// password prompt of a step-up.
//
// Rendering uses textContent only: values from the API, such as a user agent, are
// never parsed as HTML.

import { ApiError } from './api.js';
import { sync as syncConsole } from './admin.js';

const els = {
  loading: byId('loading'),
  loginView: byId('login-view'),
  loginError: byId('login-error'),
  appView: byId('app-view'),
  activity: byId('activity'),
  reauthDialog: byId('reauth-dialog'),
  reauthForm: byId('reauth-form'),
  reauthPassword: byId('reauth-password'),
  reauthCode: byId('reauth-code'),
  reauthText: byId('reauth-text'),
  reauthError: byId('reauth-error'),
  reauthCancel: byId('reauth-cancel'),
};

/** The element with this id; a missing one is a bug in index.html, so it throws. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`index.html has no #${id}`);
  }
  return el;
}

/** Counters of what happened, for the activity panel and for tests. */
export const stats = {};

/** Whether the admin console (#/admin/...) is on screen instead of the account page. */
let consoleShown = false;

/** state: "loading", "logged-in" or "logged-out"; tests wait on body[data-state]. */
export function show(state) {
  document.body.dataset.state = state;
  els.loading.hidden = state !== 'loading';
  els.loginView.hidden = state !== 'logged-out';
  els.appView.hidden = state !== 'logged-in' || consoleShown;
  syncConsole();
}

/** The admin console came on screen (active) or went: the account page makes room. */
export function consoleRouted(active) {
  consoleShown = active;
  document.body.dataset.console = String(active);
  els.appView.hidden = document.body.dataset.state !== 'logged-in' || active;
}

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function showMessage(el, text, kind) {
  el.textContent = text;
  el.hidden = false;
  el.dataset.kind = kind || 'error';
}

/** Appends a line to the activity panel and counts it in stats. */
export function count(event, text) {
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
export function describe(e) {
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
export function report(el) {
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
export function askPassword(wantsCode, attempt) {
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
// Buttons

/** Runs op while button is disabled (no double submits); errors go to statusEl. */
export function busy(button, statusEl, op) {
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
