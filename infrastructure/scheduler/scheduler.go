// Package scheduler runs periodic background jobs for the lifetime of the
// application: started with it, stopped (and waited for) with it.
package scheduler

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Job is one unit of periodic work.
type Job func(ctx context.Context) error

// Runner runs jobs at fixed intervals until stopped.
type Runner struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Runner; nothing runs until Every is called.
func New(log *slog.Logger) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{log: log, ctx: ctx, cancel: cancel}
}

// Every runs job every interval, the first time after a random fraction of
// the interval so that instances started together do not all run at once.
// Each run gets a deadline of one interval. A failure is logged, not fatal.
func (r *Runner) Every(name string, interval time.Duration, job Job) {
	r.EveryFor(name, interval, interval, job)
}

// EveryFor is Every with a deadline of its own on each run, for jobs that
// run often but may take longer than the interval (mail delivery waits on
// a mail server).
func (r *Runner) EveryFor(name string, interval, timeout time.Duration, job Job) {
	if interval <= 0 {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		// Jitter spreads the fleet's runs; it needs no cryptographic quality.
		first := time.Duration(rand.Int64N(int64(interval)))
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(r.ctx, timeout)
			err := job(ctx)
			cancel()
			if err != nil && r.ctx.Err() == nil {
				r.log.Warn("background job failed", slog.String("job", name), slog.String("error", err.Error()))
			}
			t.Reset(interval)
		}
	}()
}

// Stop cancels running jobs and waits for them to return.
func (r *Runner) Stop(context.Context) error {
	r.cancel()
	r.wg.Wait()
	return nil
}
