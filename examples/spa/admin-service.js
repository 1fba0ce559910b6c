// The admin console's service screens: the signing keys (list, rotate), the webhook
// deliveries (by status, deliver again) and the OpenID clients (list, register with
// the secret shown once, delete).

import {
  PAGE, action, app, badge, confirmTyped, firstPage, generation, h, pager, reload, row, say,
} from './admin-kit.js';

// ---------------------------------------------------------------------------------------
// Signing keys

export async function renderKeys(box) {
  const gen = generation;
  const body = h('tbody', { dataset: { testid: 'admin-keys' } });
  const rotate = h('button', { type: 'button', dataset: { testid: 'admin-rotate' } }, 'Add the next key');
  rotate.addEventListener('click', action(rotate, async () => {
    const k = await app.api('POST', '/admin/keys/rotate');
    await reload(`Key ${k.kid} published; it signs from ${app.formatTime(k.activatesAt)}. Nobody is signed out.`);
  }));
  box.append(h('h2', {}, 'Signing keys'),
    h('p', { className: 'muted' }, 'A new key is published at once and starts signing later (JWT_KEY_PUBLISH_AHEAD), on every instance. Retired keys stay published until their last token has expired.'),
    h('div', { className: 'buttons' }, rotate),
    h('table', { className: 'keys' }, h('thead', {}, row('th', ['Key ID', 'Algorithm', 'State', 'Created', 'Signs from', 'Stops signing'])), body));
  const keys = await app.api('GET', '/admin/keys');
  if (gen !== generation) {
    return;
  }
  const when = (t) => (t ? app.formatTime(t) : '—');
  body.append(...keys.map((k) => {
    const tr = row('td', [h('code', {}, k.kid), k.alg, badge(k.state, k.state === 'active' ? 'ok' : 'muted'), when(k.createdAt), when(k.activatesAt), when(k.retiresAt)]);
    tr.dataset.testid = 'admin-key';
    tr.dataset.state = k.state;
    tr.dataset.kid = k.kid;
    return tr;
  }));
  body.dataset.count = String(keys.length);
}

// ---------------------------------------------------------------------------------------
// Webhook deliveries

/** The list's state: the status shown ('' for all) and the cursors before this page. */
const deliveryList = { status: 'failed', cursors: [], cursor: null };

export async function renderDeliveries(box) {
  const gen = generation;
  const status = h('select', { id: 'admin-delivery-status', dataset: { testid: 'admin-delivery-status' } },
    ...[['failed', 'Failed'], ['pending', 'Pending'], ['delivered', 'Delivered'], ['', 'All']].map(([v, t]) =>
      h('option', { value: v, selected: v === deliveryList.status }, t)));
  status.addEventListener('change', () => {
    deliveryList.status = status.value;
    firstPage(deliveryList);
  });
  const body = h('tbody', { dataset: { testid: 'admin-deliveries' } });
  box.append(h('h2', {}, 'Webhook deliveries'),
    h('p', { className: 'muted' }, 'Events posted to WEBHOOK_URL. A failed delivery gave up after 24 hours of retries; “Deliver again” starts another 24 hours with the same webhook-id, so the receiver can tell a repeat.'),
    h('form', { className: 'inline' }, h('label', {}, 'Show', status)),
    h('table', { className: 'deliveries' }, h('thead', {}, row('th', ['Event', 'Type', 'Status', 'Attempts', 'Last error', 'Created', 'Next attempt', ''])), body));

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (deliveryList.status) {
    params.set('status', deliveryList.status);
  }
  if (deliveryList.cursor) {
    params.set('cursor', deliveryList.cursor);
  }
  const page = await app.api('GET', `/admin/webhooks/deliveries?${params}`);
  if (gen !== generation) {
    return;
  }
  const kinds = { delivered: 'ok', pending: 'muted', failed: 'bad' };
  body.append(...page.items.map((d) => {
    let retry = '';
    if (d.status !== 'delivered') {
      retry = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-delivery-retry' } }, 'Deliver again');
      retry.addEventListener('click', action(retry, async () => {
        await app.api('POST', `/admin/webhooks/deliveries/${encodeURIComponent(d.id)}/retry`);
        await reload(`Event ${d.id} is pending again.`);
      }));
    }
    const tr = row('td', [h('code', {}, d.id), d.type, badge(d.status, kinds[d.status] || 'muted'), String(d.attempts),
      d.lastError || '', app.formatTime(d.createdAt), d.nextAttemptAt ? app.formatTime(d.nextAttemptAt) : '—', retry]);
    tr.dataset.testid = 'admin-delivery';
    tr.dataset.id = d.id;
    tr.dataset.type = d.type;
    tr.dataset.status = d.status;
    return tr;
  }));
  if (page.items.length === 0) {
    body.append(row('td', [deliveryList.status ? `No ${deliveryList.status} deliveries.` : 'No deliveries.']));
  }
  body.dataset.count = String(page.items.length);
  box.append(pager(deliveryList, page.nextCursor));
}

// ---------------------------------------------------------------------------------------
// OpenID clients

export async function renderClients(box) {
  const gen = generation;
  const body = h('tbody', { dataset: { testid: 'admin-clients' } });
  const secretBox = h('div', { className: 'secret', dataset: { testid: 'admin-secret-box' }, hidden: true });

  const name = h('input', { id: 'client-name', dataset: { testid: 'client-name' }, maxLength: 100, autocomplete: 'off' });
  const redirects = h('textarea', { id: 'client-redirects', dataset: { testid: 'client-redirects' }, rows: 2, placeholder: 'https://app.example.com/callback' });
  const logouts = h('textarea', { id: 'client-logouts', dataset: { testid: 'client-logouts' }, rows: 1 });
  const isPublic = h('input', { type: 'checkbox', id: 'client-public', dataset: { testid: 'client-public' } });
  const firstParty = h('input', { type: 'checkbox', id: 'client-first-party', dataset: { testid: 'client-first-party' } });
  const form = h('form', { dataset: { testid: 'client-form' } },
    h('h3', {}, 'Register a client'),
    h('label', {}, 'Name', name),
    h('label', {}, 'Redirect URIs (one a line; https, or http on localhost)', redirects),
    h('label', {}, 'Post-logout redirect URIs (optional, one a line)', logouts),
    h('label', { className: 'checkbox' }, isPublic, 'Public client (a single-page or native app: no secret, PKCE)'),
    h('label', { className: 'checkbox' }, firstParty, 'First party (skips the consent screen)'),
    h('div', { className: 'buttons' }, h('button', { type: 'submit', dataset: { testid: 'client-create' } }, 'Register')));
  const lines = (t) => t.value.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  form.addEventListener('submit', action(form.querySelector('button'), async () => {
    const c = await app.api('POST', '/admin/oauth-clients', {
      name: name.value.trim(), redirectUris: lines(redirects), postLogoutRedirectUris: lines(logouts),
      public: isPublic.checked, firstParty: firstParty.checked,
    });
    form.reset();
    await listClients();
    showSecret(secretBox, c);
    say(`Client ${c.name} registered`, 'ok');
  }));

  const listClients = async () => {
    const clients = await app.api('GET', '/admin/oauth-clients');
    if (gen !== generation) {
      return;
    }
    body.replaceChildren(...clients.map((c) => {
      const del = h('button', { type: 'button', className: 'danger small', dataset: { testid: 'client-delete' } }, 'Delete…');
      del.addEventListener('click', action(del, async () => {
        const ok = await confirmTyped(
          `Delete the client ${c.name}? Every token it holds stops working and its consents are deleted.`,
          'Type the client name to confirm', c.name);
        if (!ok) {
          say('Not deleted.', 'info');
          return;
        }
        await app.api('DELETE', `/admin/oauth-clients/${encodeURIComponent(c.clientId)}`);
        await listClients();
        say(`Client ${c.name} deleted`, 'ok');
      }));
      const tr = row('td', [c.name, h('code', {}, c.clientId), c.public ? 'public' : 'confidential',
        c.firstParty ? 'yes' : 'no', c.redirectUris.join('\n'), c.scopes.join(' '), app.formatTime(c.createdAt), del]);
      tr.dataset.testid = 'admin-client';
      tr.dataset.clientId = c.clientId;
      tr.dataset.name = c.name;
      return tr;
    }));
    if (clients.length === 0) {
      body.append(row('td', ['No clients yet.']));
    }
    body.dataset.count = String(clients.length);
  };

  box.append(h('h2', {}, 'OpenID clients'),
    h('p', { className: 'muted' }, 'Apps that offer “Sign in with Gatehouse”. The command line does the same: gatehouse clients create.'),
    secretBox,
    h('table', { className: 'clients' }, h('thead', {}, row('th', ['Name', 'Client ID', 'Type', 'First party', 'Redirect URIs', 'Scopes', 'Created', ''])), body),
    form);
  await listClients();
}

/**
 * Shows a new client's secret once: the service stores only its hash, so this is the
 * only time anyone sees it. "Done" (or leaving the screen) takes it out of the page.
 */
function showSecret(box, c) {
  if (!c.clientSecret) {
    box.replaceChildren(h('p', {}, `${c.name} is a public client: it has no secret and must use PKCE. Client ID: `, h('code', { dataset: { testid: 'admin-new-client-id' } }, c.clientId)));
  } else {
    const secret = h('code', { dataset: { testid: 'admin-secret' } }, c.clientSecret);
    const copy = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-secret-copy' } }, 'Copy');
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(c.clientSecret).then(() => { copy.textContent = 'Copied'; }, () => { copy.textContent = 'Select and copy it by hand'; });
    });
    box.replaceChildren(
      h('p', {}, h('strong', {}, 'Copy the client secret now: it is shown only this once.')),
      h('p', {}, 'Client ID: ', h('code', { dataset: { testid: 'admin-new-client-id' } }, c.clientId)),
      h('p', {}, 'Client secret: ', secret, ' ', copy));
  }
  const done = h('button', { type: 'button', className: 'small', dataset: { testid: 'admin-secret-done' } }, 'Done');
  done.addEventListener('click', () => {
    box.replaceChildren();
    box.hidden = true;
  });
  box.append(h('div', { className: 'buttons' }, done));
  box.hidden = false;
}
