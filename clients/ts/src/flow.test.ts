// The whole flow with the generated types, against the Gatehouse at
// GATEHOUSE_URL (cmd/gatehouse's TestTypeScriptClient starts one).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { GatehouseError, gatehouse, unwrap } from "./client.js";

const base = process.env.GATEHOUSE_URL;
if (base === undefined) throw new Error("GATEHOUSE_URL is not set");

async function refused(p: Promise<unknown>): Promise<GatehouseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GatehouseError) return e;
    throw e;
  }
  assert.fail("expected a GatehouseError");
}

test("register, login, me, refresh, sessions, reauthenticate, email change, logout", async () => {
  const { client, setToken } = gatehouse(base);
  const email = `ts-${Date.now()}@example.com`;
  const password = "typescript password";

  const reg = await unwrap(client.POST("/auth/register", { body: { email, password, name: "Ada" } }));
  // 201 with a token pair; only REQUIRE_EMAIL_VERIFICATION (off here) answers 202 with null.
  if (reg === null) throw new Error("register answered data: null");
  assert.equal(reg.user.email, email);
  assert.equal(reg.refreshToken, undefined, "cookie transport keeps the refresh token out of the body");

  const bad = await refused(unwrap(client.POST("/auth/register", { body: { email, password: "short" } })));
  assert.equal(bad.status, 400);
  assert.equal(bad.code, "VALIDATION_FAILED");
  assert.deepEqual(bad.details.map((d) => d.field), ["password"]);
  const taken = await refused(unwrap(client.POST("/auth/register", { body: { email: email.toUpperCase(), password } })));
  assert.equal(taken.code, "EMAIL_TAKEN");

  const answer = await unwrap(client.POST("/auth/login", { body: { email, password, refreshTokenTransport: "body" } }));
  // Login answers a token pair, or a second-factor challenge this account has none for.
  if ("mfaRequired" in answer) throw new Error("login asked for a second factor");
  const login = answer;
  assert.ok(login.refreshToken, "body transport returns the refresh token");
  const wrong = await refused(unwrap(client.POST("/auth/login", { body: { email, password: "not the password" } })));
  assert.equal(wrong.code, "INVALID_CREDENTIALS");
  setToken(login.accessToken);

  const me = await unwrap(client.GET("/users/me"));
  assert.equal(me.name, "Ada");
  assert.deepEqual(me.roles, ["user"]);
  assert.equal(me.locale, "en");
  const german = await unwrap(client.PATCH("/users/me", { body: { locale: "de" } }));
  assert.equal(german.locale, "de");
  assert.equal(german.name, "Ada");

  // Refresh by the cookie register set (the jar sends it under /auth), then by the body.
  const byCookie = await unwrap(client.POST("/auth/refresh", { body: {} }));
  assert.equal(byCookie.session.id, reg.session.id);
  const byBody = await unwrap(client.POST("/auth/refresh", { body: { refreshToken: login.refreshToken } }));
  assert.equal(byBody.session.id, login.session.id);
  assert.ok(byBody.refreshToken);
  setToken(byBody.accessToken);

  const sessions = await unwrap(client.GET("/auth/sessions"));
  assert.equal(sessions.length, 2);
  assert.equal(sessions.filter((s) => s.current).length, 1);

  const stale = await refused(unwrap(client.PUT("/users/me/email", { body: { email: `new-${email}` } })));
  assert.equal(stale.code, "FRESH_AUTH_REQUIRED");
  const re = await unwrap(client.POST("/auth/reauthenticate", { body: { password } }));
  setToken(re.accessToken);
  const changed = await unwrap(client.PUT("/users/me/email", { body: { email: `new-${email}` } }));
  // The user (200); null (202) only with REQUIRE_EMAIL_VERIFICATION, when the
  // new address must confirm first.
  assert.ok(changed);
  assert.equal(changed.email, `new-${email}`);

  const state = await unwrap(client.GET("/auth/session"));
  assert.equal(state.id, login.session.id);
  assert.equal(state.fresh, true);

  const out = await unwrap(client.POST("/auth/logout", { body: { refreshToken: byBody.refreshToken } }));
  assert.equal(out, null);
  const gone = await refused(unwrap(client.GET("/users/me")));
  assert.equal(gone.status, 401);
  assert.equal(gone.code, "SESSION_REVOKED");
});

// The admin API, the signing keys and the WebAuthn options, used as a strict
// client would, with no cast: the envelopes require `data` and the WebAuthn
// objects are typed (issue 24 item 6), or this file does not compile.
test("admin users and keys, passkey options", async () => {
  const adminEmail = process.env.GATEHOUSE_ADMIN_EMAIL;
  const adminPassword = process.env.GATEHOUSE_ADMIN_PASSWORD;
  if (adminEmail === undefined || adminPassword === undefined) throw new Error("GATEHOUSE_ADMIN_* is not set");
  const { client, setToken } = gatehouse(base);
  const login = await unwrap(
    client.POST("/auth/login", { body: { email: adminEmail, password: adminPassword, refreshTokenTransport: "body" } }),
  );
  if ("mfaRequired" in login) throw new Error("login asked for a second factor");
  setToken(login.accessToken);

  const page = await unwrap(client.GET("/admin/users", { params: { query: { q: adminEmail, limit: 10 } } }));
  const first = page.items[0];
  assert.ok(first !== undefined, "the admin finds itself");
  assert.equal(first.email, adminEmail);
  assert.equal(page.nextCursor, null);
  const one = await unwrap(client.GET("/admin/users/{id}", { params: { path: { id: first.id } } }));
  assert.ok(one.roles.includes("admin"));
  assert.equal(one.activeSessions, 1);

  const keys = await unwrap(client.GET("/admin/keys"));
  assert.ok(keys.some((k) => k.state === "active"));
  const next = await unwrap(client.POST("/admin/keys/rotate"));
  assert.equal(next.state, "next");
  assert.ok(next.activatesAt !== null);

  const creation = await unwrap(client.POST("/auth/passkeys/registration/options", { body: { name: "laptop" } }));
  assert.equal(creation.rp.id, "localhost");
  assert.equal(creation.user.name, adminEmail);
  assert.match(creation.challenge, /^[A-Za-z0-9_-]{16,}$/);
  assert.ok(creation.pubKeyCredParams.some((p) => p.type === "public-key" && p.alg === -8));
  assert.equal(creation.authenticatorSelection?.residentKey, "required");
  const request = await unwrap(client.POST("/auth/passkeys/login/options"));
  assert.match(request.challengeId, /^[0-9a-f-]{36}$/);
  assert.match(request.options.challenge, /^[A-Za-z0-9_-]{16,}$/);
  assert.equal(request.options.userVerification, "required");
});

// Sign in with an emailed code, against an instance with mail: the request
// answers 202 for any address, the code read from the test mailbox signs in
// (amr email, address verified), used twice it is refused with a typed code.
test("sign in with an emailed code", async () => {
  const mailBase = process.env.GATEHOUSE_MAIL_URL;
  const mailbox = process.env.GATEHOUSE_MAILBOX_URL;
  if (mailBase === undefined || mailbox === undefined) throw new Error("GATEHOUSE_MAIL_URL or GATEHOUSE_MAILBOX_URL is not set");
  const { client, setToken } = gatehouse(mailBase);
  const email = `ts-code-${Date.now()}@example.com`;
  await unwrap(client.POST("/auth/register", { body: { email, password: "typescript password" } }));

  const none = await unwrap(client.POST("/auth/email-code", { body: { email: `nobody-${email}` } }));
  const sent = await unwrap(client.POST("/auth/email-code", { body: { email } }));
  assert.equal(sent, null);
  assert.equal(none, null);
  let code = "";
  for (let i = 0; i < 200 && code === ""; i++) {
    code = await (await fetch(`${mailbox}?to=${encodeURIComponent(email)}`)).text();
    if (code === "") await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(code, /^[0-9]{6}$/);

  const malformed = await refused(unwrap(client.POST("/auth/email-code/verify", { body: { email, code: "12ab56" } })));
  assert.equal(malformed.code, "VALIDATION_FAILED");
  assert.deepEqual(malformed.details.map((d) => d.field), ["code"]);
  const answer = await unwrap(
    client.POST("/auth/email-code/verify", { body: { email, code, refreshTokenTransport: "body" } }),
  );
  if ("mfaRequired" in answer) throw new Error("the code asked for a second factor");
  assert.equal(answer.user.email, email);
  assert.equal(answer.user.emailVerified, true, "the code proves the mailbox");
  assert.ok(answer.refreshToken);
  const payload = answer.accessToken.split(".")[1] ?? "";
  assert.deepEqual(JSON.parse(Buffer.from(payload, "base64url").toString()).amr, ["email"]);
  setToken(answer.accessToken);
  const me = await unwrap(client.GET("/users/me"));
  assert.equal(me.email, email);

  const again = await refused(unwrap(client.POST("/auth/email-code/verify", { body: { email, code } })));
  assert.equal(again.status, 401);
  assert.equal(again.code, "EMAIL_CODE_INVALID");
});

// Sign in with another provider (a fake GitHub the Go test runs): the
// browser's legs are plain navigations (followed here by hand), then the
// app exchanges the one-time code from the fragment with its PKCE verifier.
test("sign in with a provider: the code exchange", async () => {
  const { client, setToken } = gatehouse(base);
  const publicURL = process.env.GATEHOUSE_PUBLIC_URL ?? "http://localhost:3000";
  const providers = await unwrap(client.GET("/auth/providers"));
  assert.deepEqual(providers.map((p) => p.id), ["github"]);

  const verifier = randomBytes(32).toString("base64url");
  const codeChallenge = createHash("sha256").update(verifier).digest("base64url");
  const redirectTo = `${publicURL}/app/signed-in`;
  const q = new URLSearchParams({ redirectTo, codeChallenge });
  const leave = await fetch(`${base}/auth/oauth/github/authorize?${q}`, { redirect: "manual" });
  assert.equal(leave.status, 302);
  const atProvider = await fetch(leave.headers.get("Location") ?? "", { redirect: "manual" });
  const callback = new URL(atProvider.headers.get("Location") ?? "");
  assert.equal(callback.origin + callback.pathname, `${publicURL}/auth/oauth/github/callback`);
  const back = await fetch(`${base}${callback.pathname}${callback.search}`, { redirect: "manual" });
  assert.equal(back.status, 302);
  const location = back.headers.get("Location") ?? "";
  assert.ok(location.startsWith(`${redirectTo}#code=`), location);
  const code = new URLSearchParams(location.slice(location.indexOf("#") + 1)).get("code") ?? "";

  const wrong = await refused(unwrap(client.POST("/auth/oauth/token", {
    body: { code: "not-a-code", codeVerifier: verifier },
  })));
  assert.equal(wrong.code, "OAUTH_FAILED");
  const answer = await unwrap(client.POST("/auth/oauth/token", {
    body: { code, codeVerifier: verifier, refreshTokenTransport: "body" },
  }));
  if ("mfaRequired" in answer) throw new Error("a new account asked for a second factor");
  assert.equal(answer.user.hasPassword, false);
  assert.equal(answer.user.emailVerified, true);
  assert.ok(answer.refreshToken);
  const claims = JSON.parse(Buffer.from(answer.accessToken.split(".")[1] ?? "", "base64url").toString());
  assert.deepEqual(claims.amr, ["fed"]);
  assert.equal(claims.idp, "github");
  // Single use.
  const again = await refused(unwrap(client.POST("/auth/oauth/token", { body: { code, codeVerifier: verifier } })));
  assert.equal(again.code, "OAUTH_FAILED");

  setToken(answer.accessToken);
  const identities = await unwrap(client.GET("/auth/identities"));
  assert.equal(identities.length, 1);
  assert.equal(identities[0]?.provider, "github");
  const last = await refused(unwrap(client.DELETE("/auth/identities/{id}", { params: { path: { id: identities[0]?.id ?? "" } } })));
  assert.equal(last.code, "LAST_SIGN_IN_METHOD");
});
