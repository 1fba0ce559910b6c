// The admin console's frame (admin.js lists its screens): the router that renders the
// screen of #/admin/..., the state the screens share, and the helpers they are built
// from (h, row, badge, pager, pages, action, confirmTyped, say).

/** Page size of the lists: users, deliveries, sessions, events (the API allows 1 to 100). */
export const PAGE = 20;

/** What app.js hands over: api(method, path, body), describe(error), formatTime(iso). */
export let app = null;

/** The console's elements in index.html. */
let els = null;

/**
 * Counts the renders, so a slow answer for an old screen does not fill a newer one:
 * a screen notes it before it awaits, and drops its answer when it has changed.
 */
export let generation = 0;

/** A message for the next screen (after a deletion moves to the list), or null. */
let flash = null;

/** Shows [text, kind] on the next screen rendered. */
export function flashNext(text, kind) {
  flash = [text, kind];
}

/** The screens (admin.js's views), set by start. */
let views = [];

/** Starts the console with app.js's deps and the screens (see startConsole in admin.js). */
export function start(deps, screens) {
  app = deps;
  views = screens;
  els = {
    view: byId('admin-view'),
    nav: byId('admin-nav'),
    main: byId('admin-main'),
    status: byId('admin-status'),
    link: byId('admin-link'),
    confirm: byId('confirm-dialog'),
    confirmForm: byId('confirm-form'),
    confirmText: byId('confirm-text'),
    confirmInput: byId('confirm-input'),
    confirmLabel: byId('confirm-label'),
    confirmCancel: byId('confirm-cancel'),
  };
  els.nav.replaceChildren(...views.filter((v) => v.title).map((v) =>
    h('a', { href: `#/admin/${v.id}`, dataset: { testid: `admin-nav-${v.id}`, view: v.id } }, v.title)));
  els.nav.append(h('a', { href: '#/', dataset: { testid: 'admin-leave' } }, 'Back to my account'));
  window.addEventListener('hashchange', route);
}

/** The path after #/admin/, or null when the page is not on a console route. */
function adminPath() {
  const m = /^#\/admin(?:\/(.*))?$/.exec(location.hash);
  return m ? (m[1] || '') : null;
}

/** The route last rendered: {path, active}. */
let shown = { path: null, active: false };

/**
 * Follows a change of sign-in state (show() in ui.js calls it on every sign-in,
 * refresh and sign-out): renders only when the console appears, goes or moves, so a token
 * refresh or a step-up in the middle of an action keeps the screen as it is.
 */
export function sync() {
  if (!app) {
    return;
  }
  const path = adminPath();
  const active = path !== null && app.isSignedIn();
  els.link.hidden = !app.isAdmin();
  if (active === shown.active && (!active || path === shown.path)) {
    return;
  }
  route();
}

/** Renders the screen of the current route (again). */
export function route() {
  if (!app) {
    return;
  }
  els.link.hidden = !app.isAdmin();
  const path = adminPath();
  const active = path !== null && app.isSignedIn();
  shown = { path, active };
  app.onRoute(active);
  els.view.hidden = !active;
  if (!active) {
    generation++;
    els.main.replaceChildren();
    delete els.view.dataset.view;
    return;
  }
  const view = views.find((v) => v.route.test(path)) || null;
  const gen = ++generation;
  els.status.hidden = true;
  if (flash) {
    say(...flash);
    flash = null;
  }
  els.main.replaceChildren();
  els.main.dataset.loading = 'true';
  for (const a of els.nav.querySelectorAll('a[data-view]')) {
    const current = view !== null && (a.dataset.view === view.id || view.id === 'user' && a.dataset.view === 'users');
    a.classList.toggle('current', current);
    if (current) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  if (view === null) {
    els.view.dataset.view = 'unknown';
    say('No such page in the console.');
    delete els.main.dataset.loading;
    return;
  }
  els.view.dataset.view = view.id;
  const container = h('div', { dataset: { testid: `admin-screen-${view.id}` } });
  els.main.append(container);
  Promise.resolve(view.render(container, ...view.route.exec(path).slice(1))).catch((e) => {
    if (gen === generation) {
      fail(e);
    }
  }).finally(() => {
    if (gen === generation) {
      delete els.main.dataset.loading;
    }
  });
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the screens

/**
 * A list read a page at a time from path (an API path that takes limit and cursor):
 * load() fetches the next page and hands it to show, unless the view has moved on
 * since gen; the returned "more" button (testid, label) loads the next one and shows
 * only while there is one.
 */
export function pages(path, gen, testid, label, show) {
  const more = h('button', { type: 'button', className: 'secondary small', dataset: { testid }, hidden: true }, label);
  let cursor = null;
  const load = async () => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) {
      params.set('cursor', cursor);
    }
    const page = await app.api('GET', `${path}?${params}`);
    if (gen !== generation) {
      return;
    }
    show(page);
    cursor = page.nextCursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', action(more, load));
  return { more, load };
}

/** Renders the current screen again and then shows text (render clears the status). */
export async function reload(text) {
  route();
  say(text, 'ok');
}

/** A confirmation that needs `expected` typed in: resolves true or false. */
export function confirmTyped(text, label, expected) {
  return new Promise((resolve) => {
    const d = els.confirm;
    els.confirmText.textContent = text;
    els.confirmLabel.firstChild.textContent = label;
    els.confirmInput.value = '';
    const submit = els.confirmForm.querySelector('[type=submit]');
    const check = () => {
      submit.disabled = els.confirmInput.value.trim() !== expected;
    };
    check();
    const finish = (ok) => {
      els.confirmForm.removeEventListener('submit', onSubmit);
      els.confirmInput.removeEventListener('input', check);
      els.confirmCancel.removeEventListener('click', onCancel);
      d.removeEventListener('cancel', onCancel);
      if (d.open) {
        d.close();
      }
      resolve(ok);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      if (els.confirmInput.value.trim() === expected) {
        finish(true);
      }
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      finish(false);
    };
    els.confirmForm.addEventListener('submit', onSubmit);
    els.confirmInput.addEventListener('input', check);
    els.confirmCancel.addEventListener('click', onCancel);
    d.addEventListener('cancel', onCancel);
    d.showModal();
    els.confirmInput.focus();
  });
}

/** A click or submit handler: button disabled while op runs, errors in the status line. */
export function action(button, op) {
  return async (ev) => {
    if (ev) {
      ev.preventDefault();
    }
    button.disabled = true;
    els.status.hidden = true;
    try {
      await op();
    } catch (e) {
      fail(e);
    } finally {
      button.disabled = false;
    }
  };
}

/**
 * Paging buttons of a keyset-paged list, whose state is list.cursor (this page's) and
 * list.cursors (those of the pages before). As the API pages: forward with the page's
 * nextCursor; back by the cursors this tab remembers (the API has no "previous").
 * A button without a page to go to is off.
 */
export function pager(list, nextCursor) {
  const prev = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-prev' }, disabled: list.cursors.length === 0 }, '← Previous');
  const nxt = h('button', { type: 'button', className: 'secondary small', dataset: { testid: 'admin-next' }, disabled: !nextCursor }, 'Next →');
  if (list.cursors.length > 0) {
    prev.addEventListener('click', () => {
      list.cursor = list.cursors.pop();
      route();
    });
  }
  if (nextCursor) {
    nxt.addEventListener('click', () => {
      list.cursors.push(list.cursor);
      list.cursor = nextCursor;
      route();
    });
  }
  return h('div', { className: 'buttons pager' }, prev, h('span', { className: 'muted', dataset: { testid: 'admin-page' } }, `Page ${list.cursors.length + 1}`), nxt);
}

/** Back to a paged list's first page (its filter changed), and render it. */
export function firstPage(list) {
  list.cursors = [];
  list.cursor = null;
  route();
}

export function fail(e) {
  if (e && e.name === 'StepUpCancelled') {
    say('Cancelled: nothing was changed.', 'info');
    return;
  }
  if (e && e.code === 'FORBIDDEN') {
    say(`Refused: ${app.describe(e)}`);
    return;
  }
  say(app.describe(e));
}

/** Shows text in the console's status line (kind: error, ok, info). */
export function say(text, kind) {
  els.status.textContent = text;
  els.status.dataset.kind = kind || 'error';
  els.status.hidden = false;
}

export function badge(text, kind) {
  return h('span', { className: `badge ${kind}` }, text);
}

/** A table row of cells: strings become text, nodes are put in as they are. */
export function row(cell, values) {
  return h('tr', {}, ...values.map((v) => h(cell, {}, v)));
}

/**
 * Makes an element: props are set as properties (dataset merged), children are
 * nodes or strings (as text, never HTML).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el[k] = v;
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) {
      el.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
  }
  return el;
}

function byId(id) {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`index.html has no #${id}`);
  }
  return el;
}
