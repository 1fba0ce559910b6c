package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// constError is an error that can be a constant, so sentinels need no
// package-level variables.
type constError string

// Error implements error.
func (e constError) Error() string { return string(e) }

// errWorkerDone is returned by an Op whose worker has nothing left to do
// (every refresh chain it owns is broken). The worker stops; nothing is
// recorded for that call.
const errWorkerDone = constError("worker has no work left")

// Op performs one request of a scenario for worker w (0-based), its iter-th
// call. It returns nil on success; a *StatusError, a transport error or
// errWorkerDone otherwise. ctx ends at the hard deadline of the run.
type Op func(ctx context.Context, w, iter int) error

// LoadConfig bounds one run.
type LoadConfig struct {
	// Concurrency is the number of workers, each issuing one request at a time.
	Concurrency int
	// Warmup runs before measuring; requests completing in it are not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Grace is how long in-flight requests may finish after the window
	// before their context is cancelled (they are not counted either way).
	Grace time.Duration
}

// Result is what one run of one scenario measured.
type Result struct {
	// Scenario names the load: me, refresh, login, register.
	Scenario string
	// Target says what served it: "service", or the floor's name.
	Target string
	// Workers is the concurrency actually used.
	Workers int
	// Requests counts the calls that completed in the measured window,
	// successful or not.
	Requests uint64
	// Errors counts the failed ones among Requests, by kind in ErrorKinds.
	Errors     uint64
	ErrorKinds map[string]uint64
	// Latency holds the latencies of the successful calls.
	Latency *Histogram
	// Window is the measured window (from the end of warm-up to the end).
	Window time.Duration
	// Start and End delimit the measured window.
	Start, End time.Time
	// Note says something the reader should know (chains lost, fewer workers).
	Note string
	// RSS is set when the service's memory was sampled during the window.
	RSS *RSSStats
	// CPU is the CPU time the sampled process (CPUOf) spent in the window.
	CPU   cpuUse
	CPUOf string
	// PGCPU is the CPU time of the whole PostgreSQL server in the window
	// (with -database-url).
	PGCPU cpuUse
}

// PGCPUPerOp returns PostgreSQL's CPU time per successful call, 0 when
// unknown.
func (r *Result) PGCPUPerOp() time.Duration { return r.PGCPUPerOpLess(0) }

// PGCPUPerOpLess is PGCPUPerOp without what PostgreSQL spends idle, at
// idle CPU-seconds per second, over the same time.
func (r *Result) PGCPUPerOpLess(idle float64) time.Duration {
	if r.PGCPU.ops <= 0 {
		return 0
	}
	cpu := float64(r.PGCPU.cpu) - idle*float64(r.PGCPU.span)
	return time.Duration(max(cpu, 0) / r.PGCPU.ops)
}

// CPUPerOp returns the sampled process's CPU time per successful call, 0
// when unknown.
func (r *Result) CPUPerOp() time.Duration {
	if r.CPU.ops <= 0 {
		return 0
	}
	return time.Duration(float64(r.CPU.cpu) / r.CPU.ops)
}

// OK returns the number of successful calls in the window.
func (r *Result) OK() uint64 { return r.Requests - r.Errors }

// RPS returns successful calls per second over the window. Failed calls
// are not throughput: a fast 401 or 429 must not make a scenario look good.
func (r *Result) RPS() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.OK()) / r.Window.Seconds()
}

// workerStats is one worker's share of a Result, merged at the end.
type workerStats struct {
	hist     Histogram
	requests uint64
	errors   uint64
	kinds    map[string]uint64
}

// RunLoad drives op with cfg.Concurrency workers: warm-up first, then the
// measured window. A call counts when it completes inside the window (by
// completion time, which is unbiased for throughput whatever the latency);
// workers start no new call after the window, and calls still running
// cfg.Grace later are cancelled. It returns early, with what it has, when
// ctx ends.
func RunLoad(ctx context.Context, cfg LoadConfig, op Op) *Result {
	workers := max(cfg.Concurrency, 1)
	start := time.Now()
	from := start.Add(cfg.Warmup)
	end := from.Add(cfg.Duration)
	grace := cfg.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	hctx, cancel := context.WithDeadline(ctx, end.Add(grace))
	defer cancel()

	stats := make([]workerStats, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(w int, st *workerStats) {
			defer wg.Done()
			for iter := 0; ; iter++ {
				if ctx.Err() != nil || !time.Now().Before(end) {
					return
				}
				t0 := time.Now()
				err := op(hctx, w, iter)
				t1 := time.Now()
				if errors.Is(err, errWorkerDone) {
					return
				}
				if t1.Before(from) || t1.After(end) {
					continue
				}
				st.requests++
				if err != nil {
					st.errors++
					if st.kinds == nil {
						st.kinds = map[string]uint64{}
					}
					st.kinds[errorKind(err)]++
					continue
				}
				st.hist.Record(t1.Sub(t0))
			}
		}(w, &stats[w])
	}
	wg.Wait()

	res := &Result{Workers: workers, Latency: &Histogram{}, ErrorKinds: map[string]uint64{}, Start: from, End: end}
	for i := range stats {
		st := &stats[i]
		res.Latency.Merge(&st.hist)
		res.Requests += st.requests
		res.Errors += st.errors
		for k, n := range st.kinds {
			res.ErrorKinds[k] += n
		}
	}
	// An interrupted run measured only until now.
	if now := time.Now(); now.Before(end) {
		res.End = now
	}
	res.Window = max(res.End.Sub(from), 0)
	return res
}

// StatusError is a response outside 2xx, with the envelope's error code
// when the body had one.
type StatusError struct {
	Status int
	Code   string
}

// Error implements error: "HTTP 401 TOKEN_INVALID".
func (e *StatusError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
}

// errorKind names the kind of a failed call, for the error counts:
// "HTTP 401 TOKEN_INVALID", "timeout", "connection refused", "transport".
func errorKind(err error) string {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	default:
		var ke kindError
		if errors.As(err, &ke) {
			return ke.kind
		}
		return "transport"
	}
}

// kindError is an error that names its own kind (e.g. a database error in
// a floor loop).
type kindError struct {
	kind string
	err  error
}

// Error implements error.
func (e kindError) Error() string { return e.kind + ": " + e.err.Error() }

// Unwrap returns the underlying error.
func (e kindError) Unwrap() error { return e.err }
