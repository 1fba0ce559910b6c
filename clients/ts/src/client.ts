// A thin, typed Gatehouse client: openapi-fetch over the types openapi-typescript
// generates from api/openapi.yaml (src/schema.gen.ts, never edited by hand).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.gen.js";

export type Schemas = components["schemas"];
export type ErrorEnvelope = Schemas["ErrorEnvelope"];
export type ErrorCode = Schemas["ErrorCode"];
export type FieldError = Schemas["FieldError"];

/** A refusal from Gatehouse: switch on `code`, never on `message`. */
export class GatehouseError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: FieldError[];
  readonly requestId: string;
  constructor(status: number, body: ErrorEnvelope) {
    super(`${body.error.code}: ${body.message}`);
    this.name = "GatehouseError";
    this.status = status;
    this.code = body.error.code;
    this.details = body.error.details ?? [];
    this.requestId = body.requestId;
  }
}

/** The result of an openapi-fetch call. */
interface FetchResult<D, E> {
  data?: D;
  error?: E;
  response: Response;
}

/**
 * The `data` of a success envelope. An always-null `data` (NullEnvelope) is
 * `null`: openapi-fetch's Readable<> drops a member whose only value is null,
 * so such an envelope type has no `data` at all.
 */
export type DataOf<E> = E extends { data: infer X } ? X : null;

/**
 * Returns the success envelope's `data`, or throws a GatehouseError with the
 * error envelope's code and details.
 */
export async function unwrap<D extends object>(
  call: Promise<FetchResult<D, ErrorEnvelope>>,
): Promise<DataOf<D>> {
  const { data, error, response } = await call;
  if (error !== undefined) {
    throw new GatehouseError(response.status, error);
  }
  if (data === undefined) {
    throw new Error(`Gatehouse answered ${response.status} without a body`);
  }
  return (data as { data?: unknown }).data as DataOf<D>;
}

/**
 * A cookie jar for Node (browsers keep the refresh cookie themselves): it
 * stores the cookies Gatehouse sets and sends them back on requests whose
 * path is under the cookie's Path.
 */
export function cookieJar(): Middleware {
  const jar = new Map<string, { value: string; path: string }>();
  return {
    onRequest({ request }) {
      const path = new URL(request.url).pathname;
      const pairs: string[] = [];
      for (const [name, c] of jar) {
        if (path.startsWith(c.path)) pairs.push(`${name}=${c.value}`);
      }
      if (pairs.length > 0) request.headers.set("Cookie", pairs.join("; "));
      return request;
    },
    onResponse({ response }) {
      for (const line of response.headers.getSetCookie()) {
        const [pair = "", ...attrs] = line.split(";").map((s) => s.trim());
        const eq = pair.indexOf("=");
        const name = pair.slice(0, eq);
        const value = pair.slice(eq + 1);
        const path = attrs.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
        const cleared = value === "" || attrs.some((a) => /^max-age=(0|-)/i.test(a));
        if (cleared) jar.delete(name);
        else jar.set(name, { value, path });
      }
      return response;
    },
  };
}

/** A client for the Gatehouse at baseUrl, with a bearer token that can be swapped. */
export function gatehouse(baseUrl: string) {
  const client = createClient<paths>({ baseUrl });
  let token: string | undefined;
  client.use(cookieJar(), {
    onRequest({ request }) {
      if (token !== undefined && !request.headers.has("Authorization")) {
        request.headers.set("Authorization", `Bearer ${token}`);
      }
      return request;
    },
  });
  return {
    client,
    setToken(t: string | undefined) {
      token = t;
    },
  };
}
