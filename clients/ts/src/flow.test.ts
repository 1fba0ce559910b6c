// The whole flow with the generated types, against the Gatehouse at
// GATEHOUSE_URL (cmd/gatehouse's TestTypeScriptClient starts one).
import assert from "node:assert/strict";
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
