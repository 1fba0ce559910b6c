// Package tracing sets up OpenTelemetry tracing: an OTLP/HTTP exporter when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
// a no-op provider otherwise (spans then
// cost next to nothing), and spans for every database statement gorm runs.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// ServiceName is the service.name resource attribute of every span.
const ServiceName = "gatehouse"

// Module provides the trace.TracerProvider and flushes it on stop.
func Module() fx.Option {
	return fx.Module("tracing", fx.Provide(fromConfig))
}

func fromConfig(lc fx.Lifecycle, cfg config.Config) (trace.TracerProvider, error) {
	endpoint := cfg.Tracing.TracesURL()
	if endpoint == "" {
		return noop.NewTracerProvider(), nil
	}
	// The URL is resolved by the configuration (OTEL_EXPORTER_OTLP_ENDPOINT
	// plus /v1/traces, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is) and
	// given whole: the exporter would take a base URL's empty path for "/".
	// It still reads the other OTEL_EXPORTER_OTLP_* variables (headers,
	// timeout, certificates, compression) from the environment.
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	tp := NewProvider(sdktrace.NewBatchSpanProcessor(exp))
	lc.Append(fx.Hook{OnStop: tp.Shutdown})
	return tp, nil
}

// NewProvider returns an SDK provider that sends every span to sp (tests
// pass a synchronous processor around an in-memory exporter).
func NewProvider(sp sdktrace.SpanProcessor) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(attribute.String("service.name", ServiceName))
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res))
}

// spanKey keeps a statement's span between gorm's before and after callbacks.
const spanKey = "gatehouse:span"

// InstrumentGorm adds a client span around every statement gorm runs:
// named after the operation and table, with the SQL text (placeholders,
// never the values, so no secret reaches a trace) and the rows affected.
func InstrumentGorm(db *gorm.DB, tp trace.TracerProvider, system string) error {
	tracer := tp.Tracer("gatehouse/database")
	before := func(op string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			if tx.Statement == nil || tx.Statement.Context == nil {
				return
			}
			name := "db." + op
			if tx.Statement.Table != "" {
				name += " " + tx.Statement.Table
			}
			ctx, _ := tracer.Start(tx.Statement.Context, name, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.operation.name", op)))
			tx.Statement.Context = ctx
			tx.InstanceSet(spanKey, trace.SpanFromContext(ctx))
		}
	}
	after := func(tx *gorm.DB) {
		v, ok := tx.InstanceGet(spanKey)
		if !ok {
			return
		}
		span := v.(trace.Span)
		if sql := tx.Statement.SQL.String(); sql != "" {
			span.SetAttributes(attribute.String("db.query.text", strings.Join(strings.Fields(sql), " ")))
		}
		span.SetAttributes(attribute.Int64("db.response.returned_rows", tx.Statement.RowsAffected))
		if err := tx.Error; err != nil && err != gorm.ErrRecordNotFound {
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
	cb := db.Callback()
	for _, r := range []struct {
		op  string
		reg func(string, func(*gorm.DB)) error
		aft func(string, func(*gorm.DB)) error
	}{
		{"create", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"select", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"update", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"delete", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"row", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"raw", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	} {
		if err := r.reg("tracing:before_"+r.op, before(r.op)); err != nil {
			return err
		}
		if err := r.aft("tracing:after_"+r.op, after); err != nil {
			return err
		}
	}
	return nil
}
