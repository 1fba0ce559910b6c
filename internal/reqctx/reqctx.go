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
