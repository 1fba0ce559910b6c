package persistence

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// startStatement opens a client span for a statement sent straight to the
// connection, around gorm (whose own statements are traced by its
// callbacks). It uses the provider of the caller's span, so it costs
// nothing when tracing is off: the attributes, whose query text takes
// allocations to tidy, are only built for a span that records.
func startStatement(ctx context.Context, name, system, sql string) (context.Context, trace.Span) {
	tracer := trace.SpanFromContext(ctx).TracerProvider().Tracer("gatehouse/database")
	ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("db.system.name", system),
			attribute.String("db.query.text", strings.Join(strings.Fields(sql), " ")))
	}
	return ctx, span
}
