package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryRunsRepeatedlyAndStops(t *testing.T) {
	r := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var runs atomic.Int32
	done := make(chan struct{})
	r.Every("count", 5*time.Millisecond, func(ctx context.Context) error {
		if runs.Add(1) == 3 {
			close(done)
		}
		return errors.New("failures are logged, not fatal")
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not run three times")
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := runs.Load()
	time.Sleep(20 * time.Millisecond)
	if runs.Load() != after {
		t.Error("job ran after Stop")
	}
}

func TestZeroIntervalNeverRuns(t *testing.T) {
	r := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Every("never", 0, func(context.Context) error { t.Error("ran"); return nil })
	_ = r.Stop(context.Background())
}
