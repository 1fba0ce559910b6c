package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Floor names, as targets of a Result and subcommands.
const (
	floorMe      = "floor-me"
	floorRefresh = "floor-refresh"
	floorArgon2  = "floor-argon2"
)

// Options are the settings of one invocation (from the command line).
type Options struct {
	URL          string
	DatabaseURL  string
	Duration     time.Duration
	Warmup       time.Duration
	Timeout      time.Duration
	Concurrency  int
	Users        int
	Rounds       int
	PID          int
	RSSInterval  time.Duration
	Issuer       string
	Audience     string
	Argon2       Argon2Params
	Argon2Worker int
	FloorPool    int
	Prefix       string
	Password     string
	// Slices is how many alternating slices each side of a comparison
	// runs per round.
	Slices int
	// FloorCPUProfile, when set, is where the floor-me process writes a
	// CPU profile of its life.
	FloorCPUProfile string
}

// targetSpec is one comparison: a service scenario, its floor, the target.
type targetSpec struct {
	scenario  string
	floor     string
	threshold float64
}

// targets are the ratio targets, in run order: those of issue 11, which
// raised me to 0.8 of its floor and set login at 0.85 of raw argon2id.
func targets() []targetSpec {
	return []targetSpec{
		{scenarioMe, floorMe, 0.8},
		{scenarioRefresh, floorRefresh, 0.5},
		{scenarioLogin, floorArgon2, 0.85},
	}
}

// bench holds the state shared by the runs of one invocation: the
// virtual users, and the floors, started on first use.
type bench struct {
	opts  Options
	api   *apiClient
	users []*vuser
	logf  func(string, ...any)
	seq   int

	stderr    io.Writer
	pool      *pgxpool.Pool
	floorProc *floorProcess
	floorAPI  *apiClient
	rssMax    float64
	rssWorst  *RSSStats
	rssBy     string
	rssBySc   map[string]float64
	rssErr    error
}

func newBench(opts Options, logf func(string, ...any), stderr io.Writer) *bench {
	return &bench{
		opts:   opts,
		api:    &apiClient{base: opts.URL, hc: newHTTPClient(opts.Concurrency, opts.Timeout)},
		logf:   logf,
		stderr: stderr,
	}
}

// setup waits for the service to be ready and registers the virtual users.
func (b *bench) setup(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for !probe(rctx, b.api.hc, b.opts.URL+"/readyz") {
		select {
		case <-rctx.Done():
			return fmt.Errorf("service at %s is not ready (GET /readyz): start it first (make run)", b.opts.URL)
		case <-time.After(100 * time.Millisecond):
		}
	}
	sctx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel2()
	t0 := time.Now()
	users, err := setupUsers(sctx, b.api, b.opts.Users, b.opts.Concurrency, b.opts.Prefix, b.opts.Password)
	if err != nil {
		return err
	}
	b.users = users
	b.logf("setup: registered %d users (%s) in %s", len(users), b.opts.Prefix, time.Since(t0).Round(time.Millisecond))
	return nil
}

// Close stops the floors.
func (b *bench) Close() {
	if b.floorProc != nil {
		b.floorProc.Close()
	}
	if b.pool != nil {
		b.pool.Close()
	}
}

func (b *bench) loadConfig(workers int, warmup, duration time.Duration) LoadConfig {
	return LoadConfig{Concurrency: workers, Warmup: warmup, Duration: duration, Grace: b.opts.Timeout}
}

// ensurePool opens the floor's pgx pool on first use.
func (b *bench) ensurePool(ctx context.Context) error {
	if b.pool != nil {
		return nil
	}
	if b.opts.DatabaseURL == "" {
		return errors.New("floors need -database-url (the service's postgres:// DATABASE_URL)")
	}
	pool, err := openPool(ctx, b.opts.DatabaseURL, b.opts.FloorPool)
	if err != nil {
		return err
	}
	b.pool = pool
	return nil
}

// ensureFloorMe starts the floor handler's process on first use; it
// fetches the service's public keys itself.
func (b *bench) ensureFloorMe(ctx context.Context) error {
	if b.floorProc != nil {
		return nil
	}
	if b.opts.DatabaseURL == "" {
		return errors.New("floors need -database-url (the service's postgres:// DATABASE_URL)")
	}
	proc, err := startFloorProcess(ctx, b.opts, b.opts.FloorCPUProfile, b.stderr)
	if err != nil {
		return fmt.Errorf("floor-me: %w", err)
	}
	b.floorProc = proc
	b.floorAPI = &apiClient{base: proc.URL, hc: newHTTPClient(b.opts.Concurrency, b.opts.Timeout)}
	// One request before any load: a token the floor refuses means the
	// comparison would measure error paths.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.floorAPI.me(rctx, b.users[0].Access); err != nil {
		return fmt.Errorf("floor-me: the floor refuses the service's token (check -jwt-issuer/-jwt-audience): %w", err)
	}
	return nil
}

// run runs one scenario against one target ("service" or a floor name)
// for -warmup and -duration, and summarizes it.
func (b *bench) run(ctx context.Context, scenario, target string) (*Result, error) {
	brokenBefore := brokenChains(b.users)
	res, samples, err := b.runSlice(ctx, scenario, target, b.opts.Warmup, b.opts.Duration)
	if res != nil {
		b.finish(res, samples, brokenBefore)
	}
	return res, err
}

// runSlice runs one scenario against one target for warmup plus
// duration, and returns the result and the service's RSS samples taken
// in its measured window (none for floors or without -pid).
func (b *bench) runSlice(ctx context.Context, scenario, target string, warmup, duration time.Duration) (*Result, []rssSample, error) {
	var (
		op      Op
		workers = b.opts.Concurrency
	)
	switch target {
	case "service":
		switch scenario {
		case scenarioMe:
			op = meOp(b.api, b.users, workers)
		case scenarioRefresh:
			workers = refreshWorkers(workers, len(b.users))
			op = refreshOp(b.api, b.users, workers)
		case scenarioLogin:
			op = loginOp(b.api, b.users, workers, b.opts.Password)
		case scenarioRegister:
			b.seq++
			op = registerOp(b.api, fmt.Sprintf("%s-reg%d", b.opts.Prefix, b.seq), b.opts.Password)
		default:
			return nil, nil, fmt.Errorf("unknown scenario %q", scenario)
		}
	case floorMe:
		if err := b.ensureFloorMe(ctx); err != nil {
			return nil, nil, err
		}
		op = meOp(b.floorAPI, b.users, workers)
	case floorRefresh:
		if err := b.ensurePool(ctx); err != nil {
			return nil, nil, err
		}
		workers = refreshWorkers(workers, len(b.users))
		op = floorRefreshOp(b.pool, b.users, workers)
	case floorArgon2:
		// argon2id is CPU-bound: the raw rate is reached with one hash per
		// CPU, which is also the service's own cap on concurrent hashes.
		// More workers add no throughput, only memory and completions
		// that arrive in bursts of -concurrency (a short window may see none).
		workers = runtime.GOMAXPROCS(0)
		if b.opts.Argon2Worker > 0 {
			workers = b.opts.Argon2Worker
		}
		op = argon2Op(b.opts.Argon2)
	default:
		return nil, nil, fmt.Errorf("unknown target %q", target)
	}

	// The process whose memory and CPU time are sampled: the service (with
	// -pid), the floor-me process, or this one for the in-process floors.
	pid, cpuOf := 0, ""
	switch {
	case target == "service" && b.opts.PID > 0:
		pid, cpuOf = b.opts.PID, "service"
	case target == floorMe:
		pid, cpuOf = b.floorProc.cmd.Process.Pid, "floor-me process"
	case target != "service":
		pid, cpuOf = os.Getpid(), "bench process"
	}
	var sampler *rssSampler
	if pid > 0 {
		sampler = startRSS(pid, b.opts.RSSInterval)
	}
	res := RunLoad(ctx, b.loadConfig(workers, warmup, duration), op)
	res.Scenario, res.Target = scenario, target
	var inWindow []rssSample
	if sampler != nil {
		samples, err := sampler.Stop()
		if err != nil && target == "service" && b.rssErr == nil {
			b.rssErr = fmt.Errorf("reading /proc/%d: %w", pid, err)
		}
		for _, sm := range samples {
			if !sm.at.Before(res.Start) && !sm.at.After(res.End) {
				inWindow = append(inWindow, sm)
			}
		}
		res.CPU, res.CPUOf = cpuOver(inWindow, res.OK(), res.Window), cpuOf
	}
	if target != "service" {
		inWindow = nil // memory is reported for the service only
	}
	return res, inWindow, ctx.Err()
}

// finish summarizes memory, adds notes and logs one line.
func (b *bench) finish(res *Result, samples []rssSample, brokenBefore int) {
	if len(samples) > 0 {
		res.RSS = summarizeRSS(samples, samples[0].at, samples[len(samples)-1].at)
		b.noteRSS(res)
	}
	if lost := brokenChains(b.users) - brokenBefore; lost > 0 && res.Target == "service" {
		res.Note = fmt.Sprintf("%d refresh chains lost (refused by the service)", lost)
	}
	if hint := benchHint(res.ErrorKinds); hint != "" {
		res.Note = joinNote(res.Note, hint)
	}
	if res.Scenario == scenarioRefresh && res.Workers < b.opts.Concurrency {
		res.Note = joinNote(res.Note, fmt.Sprintf("only %d workers: one per user (raise -users)", res.Workers))
	}
	b.logf("%s/%s: %d ok, %.1f/s, p50 %s, p99 %s, %d errors",
		res.Scenario, res.Target, res.OK(), res.RPS(), fmtMs(res.Latency.Quantile(0.5)), fmtMs(res.Latency.Quantile(0.99)), res.Errors)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// noteRSS keeps the largest reading and the worst steady level.
func (b *bench) noteRSS(res *Result) {
	if res.RSS == nil {
		return
	}
	b.rssMax = max(b.rssMax, res.RSS.MaxMiB)
	if b.rssBySc == nil {
		b.rssBySc = map[string]float64{}
	}
	b.rssBySc[res.Scenario] = max(b.rssBySc[res.Scenario], res.RSS.SteadyMiB)
	if b.rssWorst == nil || res.RSS.SteadyMiB > b.rssWorst.SteadyMiB {
		b.rssWorst, b.rssBy = res.RSS, res.Scenario
	}
}

// memoryReport summarizes RSS over every service run; nil without -pid.
func (b *bench) memoryReport() *MemoryReport {
	if b.opts.PID <= 0 {
		return nil
	}
	m := &MemoryReport{PID: b.opts.PID, LimitMiB: memoryLimitMiB}
	switch {
	case b.rssErr != nil && b.rssWorst == nil:
		m.Error = b.rssErr.Error()
		m.Verdict = "NONE"
	case b.rssWorst == nil:
		m.Error = "no samples in any measured window"
		m.Verdict = "NONE"
	default:
		m.MaxMiB, m.SteadyMiB, m.SteadyBy = round2(b.rssMax), round2(b.rssWorst.SteadyMiB), b.rssBy
		m.SteadyByScenario = b.rssBySc
		m.Verdict = verdict(m.SteadyMiB <= memoryLimitMiB)
	}
	return m
}

// compare runs rounds of service-vs-floor pairs for the given targets and
// returns every result and the ratios. Within a round each side runs in
// -slices alternating slices (service, floor, service, floor, ...; the
// floor first in even rounds), so that a burst of outside load on these
// shared cores hits both sides alike; each side's slices are summed into
// one result. The first slice of a side warms up for -warmup, the others
// briefly, since connections stay open between slices.
func (b *bench) compare(ctx context.Context, specs []targetSpec, rounds int) ([]ResultJSON, []Comparison, error) {
	var rows []ResultJSON
	comps := make([]Comparison, len(specs))
	for i, t := range specs {
		comps[i] = Comparison{Target: t.scenario, Floor: t.floor, Threshold: t.threshold}
	}
	nSlices := max(b.opts.Slices, 1)
	sliceDur := max(b.opts.Duration/time.Duration(nSlices), time.Millisecond)
	shortWarm := min(b.opts.Warmup, max(sliceDur/5, 100*time.Millisecond))
	for round := 1; round <= rounds; round++ {
		for i, t := range specs {
			order := []string{"service", t.floor}
			if round%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			acc := map[string]*Result{}
			samples := map[string][]rssSample{}
			broken := brokenChains(b.users)
			for s := range nSlices {
				warm := shortWarm
				if s == 0 {
					warm = b.opts.Warmup
				}
				for _, target := range order {
					res, smp, err := b.runSlice(ctx, t.scenario, target, warm, sliceDur)
					if err != nil {
						return rows, comps, err
					}
					acc[target] = mergeResults(acc[target], res)
					samples[target] = append(samples[target], smp...)
				}
			}
			for _, target := range order {
				b.finish(acc[target], samples[target], broken)
				rows = append(rows, acc[target].toJSON(round))
			}
			ratio := 0.0
			if f := acc[t.floor].RPS(); f > 0 {
				ratio = round3(acc["service"].RPS() / f)
			}
			comps[i].Ratios = append(comps[i].Ratios, ratio)
			b.logf("round %d %s: service/floor = %.3f", round, t.scenario, ratio)
		}
	}
	for i := range comps {
		comps[i].summarize()
	}
	return rows, comps, nil
}

// mergeResults adds slice r to the running total acc (nil at first): the
// counts, latencies and measured windows add up, so RPS is the total
// successes over the total measured time.
func mergeResults(acc, r *Result) *Result {
	if acc == nil {
		return r
	}
	acc.Requests += r.Requests
	acc.Errors += r.Errors
	for k, n := range r.ErrorKinds {
		acc.ErrorKinds[k] += n
	}
	acc.Latency.Merge(r.Latency)
	acc.Window += r.Window
	acc.CPU.cpu += r.CPU.cpu
	acc.CPU.ops += r.CPU.ops
	acc.End = r.End
	acc.Workers = max(acc.Workers, r.Workers)
	return acc
}
