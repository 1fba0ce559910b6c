package logging

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"bufio"
	"bytes"
	"encoding/json"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/gatehouse/gatehouse/infrastructure/config"
)

// lines returns the non-empty lines written to buf.
func lines(buf *bytes.Buffer) []string {
	var out []string
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestLevelFiltering(t *testing.T) {
	tests := []struct {
		level string
		want  []string // messages that get through
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"", []string{"i", "w", "e"}},
		{"WARN", []string{"w", "e"}},
		{"error", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(Options{Level: tt.level, Format: "json"}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			var got []string
			for _, l := range lines(&buf) {
				var rec struct{ Msg string }
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				got = append(got, rec.Msg)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJSONOutputParses(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "info", Format: "JSON"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started", "addr", ":3000", "n", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("output %q is not JSON: %v", buf.String(), err)
	}
	if rec["level"] != "INFO" || rec["msg"] != "started" || rec["addr"] != ":3000" || rec["n"] != 3.0 || rec["time"] == nil {
		t.Errorf("unexpected record %v", rec)
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "info", Format: "text"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started", "addr", ":3000")
	if out := buf.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "msg=started") {
		t.Errorf("unexpected text output %q", out)
	}
}

func TestUnknownOptions(t *testing.T) {
	for _, o := range []Options{
		{Level: "verbose", Format: "json"},
		{Level: "trace"},
		{Level: "info", Format: "xml"},
	} {
		if log, err := New(o, &bytes.Buffer{}); err == nil || log != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", o, log, err)
		}
	}
}

func TestFxEventsAtDebug(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "debug"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	ev := eventLogger(log)
	ev.LogEvent(&fxevent.Started{})
	ev.LogEvent(&fxevent.Started{Err: os.ErrNotExist})
	got := lines(&buf)
	// Errors too: a failed start is reported once by the command, as one line.
	if len(got) != 2 || !strings.Contains(got[0], `"level":"DEBUG"`) || !strings.Contains(got[1], `"level":"DEBUG"`) {
		t.Errorf("fx events: %v", got)
	}
}

// useEnv points the process environment at an empty config file plus vars,
// since config.Module reads os.LookupEnv.
func useEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_FILE", empty)
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func TestModule(t *testing.T) {
	useEnv(t, map[string]string{"LOG_LEVEL": "warn"})
	if err := fx.ValidateApp(config.Module(), Module(), fx.Invoke(func(*slog.Logger) {})); err != nil {
		t.Fatalf("ValidateApp: %v", err)
	}
	var got *slog.Logger
	app := fx.New(config.Module(), Module(), fx.Populate(&got))
	if err := app.Err(); err != nil {
		t.Fatalf("fx.New: %v", err)
	}
	if got == nil || got.Enabled(t.Context(), slog.LevelInfo) || !got.Enabled(t.Context(), slog.LevelWarn) {
		t.Errorf("logger does not follow LOG_LEVEL=warn")
	}
}

func TestModuleBadConfig(t *testing.T) {
	useEnv(t, map[string]string{"LOG_FORMAT": "xml"})
	app := fx.New(config.Module(), Module(), fx.Invoke(func(*slog.Logger) {}), fx.NopLogger)
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "config: LOG_FORMAT:") {
		t.Errorf("fx.New error = %v, want the config error", err)
	}
}

func TestRequestAndTraceIDsFromContext(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: "info"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(reqctx.WithRequestID(context.Background(), "req-1"),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	log.InfoContext(ctx, "hello")
	log.InfoContext(ctx, "explicit", "requestId", "req-1")
	log.Info("no context")
	got := lines(&buf)
	if !strings.Contains(got[0], `"requestId":"req-1"`) || !strings.Contains(got[0], `"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"`) || !strings.Contains(got[0], `"spanId":"00f067aa0ba902b7"`) {
		t.Errorf("with context: %s", got[0])
	}
	if strings.Count(got[1], "requestId") != 1 {
		t.Errorf("request ID twice: %s", got[1])
	}
	if strings.Contains(got[2], "traceId") || strings.Contains(got[2], "requestId") {
		t.Errorf("without context: %s", got[2])
	}
}
