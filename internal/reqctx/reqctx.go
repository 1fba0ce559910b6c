// Package reqctx carries the request ID in a context, so that code far from
// the HTTP layer (log handlers, spans) can name the request it serves.
package reqctx

import "context"

type key struct{}

// WithRequestID returns ctx carrying the request ID rid.
func WithRequestID(ctx context.Context, rid string) context.Context {
	return context.WithValue(ctx, key{}, rid)
}

// RequestID is the request ID in ctx, "" if none.
func RequestID(ctx context.Context) string {
	rid, _ := ctx.Value(key{}).(string)
	return rid
}

type clientKey struct{}

// Client is who sent a request: the client IP (as the HTTP layer trusts
// it, proxies considered) and the User-Agent.
type Client struct {
	IP        string
	UserAgent string
}

// WithClient returns ctx carrying c, for handlers mounted from libraries
// that see only the *http.Request (the OpenID provider's endpoints).
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf is the client in ctx, zero if none.
func ClientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
