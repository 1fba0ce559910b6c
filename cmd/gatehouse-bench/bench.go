package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/proctest"
	"github.com/gatehouse/gatehouse/internal/scale"
)

// Floor names, as targets of a Result and subcommands.
const (
	floorMe      = "floor-me"
	floorRefresh = "floor-refresh"
	floorArgon2  = "floor-argon2"
)

// Options are the settings of one invocation (from the command line).
type Options struct {
	// URL is the service under load; with a second -url, Others are the
	// services compared with it (compare: each scenario on URL over the
	// same on Others[0]).
	URL          string
	Others       []namedURL
	Name         string // URL's label (default "service")
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
	// Manifests are the seeded fixtures behind URL and Others, in order
	// (internal/scale): with one, the virtual users are seeded accounts
	// logged in, and the scale scenarios have what to look for.
	Manifests []string
}

// namedURL is a service address with its label and process.
type namedURL struct {
	Name string
	URL  string
	PID  int
}

// targetSpec is one comparison: a service scenario, its floor, the target.
type targetSpec struct {
	scenario  string
	floor     string
	threshold float64
}

// sizeThreshold is the least a service may reach of the same service on a
// small database (issue 25: within 10 %).
const sizeThreshold = 0.9

// sizeTargets compare each scenario on the service under load with the
// same scenario on another service (the same build on a smaller
// database): throughput must not depend on size.
func sizeTargets(scenarios []string, other string) []targetSpec {
	out := make([]targetSpec, len(scenarios))
	for i, sc := range scenarios {
		out[i] = targetSpec{scenario: sc, floor: other, threshold: sizeThreshold}
	}
	return out
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

// side is one service under load: its address, its virtual users, its
// process (for -pid) and, for a seeded database, its manifest and the
// administrator's session.
type side struct {
	name  string
	api   *apiClient
	users []*vuser
	pid   int
	man   *scale.Manifest
	admin *adminSession
}

// bench holds the state shared by the runs of one invocation: the
// services' virtual users, and the floors, started on first use.
type bench struct {
	opts  Options
	sides []*side
	api   *apiClient // sides[0]'s, which the floors follow
	users []*vuser   // sides[0]'s
	logf  func(string, ...any)
	seq   int
	// pgRoot is the PostgreSQL server process (with -database-url), whose
	// CPU time is sampled during every run.
	pgRoot int
	// pace is the rate (per second) the paced targets run at: the service's
	// refresh rate in the cost command's round.
	pace     float64
	rotation *rotationLoop

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
	b := &bench{opts: opts, logf: logf, stderr: stderr}
	name := opts.Name
	if name == "" {
		name = "service"
	}
	all := append([]namedURL{{Name: name, URL: opts.URL, PID: opts.PID}}, opts.Others...)
	for i, u := range all {
		if u.Name == "" {
			u.Name = fmt.Sprintf("service%d", i+1)
		}
		b.sides = append(b.sides, &side{name: u.Name, pid: u.PID,
			api: &apiClient{base: u.URL, hc: newHTTPClient(opts.Concurrency, opts.Timeout)}})
	}
	b.api = b.sides[0].api
	return b
}

// sideNamed returns the service called name, nil if there is none.
func (b *bench) sideNamed(name string) *side {
	for _, s := range b.sides {
		if s.name == name {
			return s
		}
	}
	return nil
}

// setup waits for every service to be ready and makes the virtual users:
// registered, or with a manifest, seeded accounts logged in (and the
// administrator). With -database-url it finds PostgreSQL's processes.
func (b *bench) setup(ctx context.Context) error {
	for i, sd := range b.sides {
		if i < len(b.opts.Manifests) && b.opts.Manifests[i] != "" {
			m, err := scale.ReadManifest(b.opts.Manifests[i])
			if err != nil {
				return err
			}
			sd.man = m
		}
		if err := b.setupSide(ctx, sd); err != nil {
			return err
		}
	}
	b.users = b.sides[0].users
	if b.opts.DatabaseURL != "" && strings.HasPrefix(b.opts.DatabaseURL, "postgres") {
		pid, err := postmasterPID(ctx, b.opts.DatabaseURL)
		if err != nil {
			b.logf("PostgreSQL CPU not sampled: %v", err)
		} else {
			b.pgRoot = pid
		}
	}
	return nil
}

func (b *bench) setupSide(ctx context.Context, sd *side) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ready := proctest.HTTPReadyClient(sd.api.hc, sd.api.base+"/readyz")
	for ready(rctx) != nil {
		select {
		case <-rctx.Done():
			return fmt.Errorf("service at %s is not ready (GET /readyz): start it first (make run)", sd.api.base)
		case <-time.After(100 * time.Millisecond):
		}
	}
	sctx, cancel2 := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel2()
	t0 := time.Now()
	var err error
	if sd.man != nil {
		sd.users, err = loginSeeded(sctx, sd.api, sd.man, b.opts.Users, b.opts.Concurrency)
		if err == nil {
			sd.admin, err = newAdminSession(sctx, sd.api, sd.man.Admin, sd.man.Password)
		}
		if err != nil {
			return err
		}
		b.logf("setup %s: logged in %d seeded accounts of %d and the admin in %s", sd.name, len(sd.users), sd.man.Users, time.Since(t0).Round(time.Millisecond))
		return nil
	}
	sd.users, err = setupUsers(sctx, sd.api, b.opts.Users, b.opts.Concurrency, b.opts.Prefix, b.opts.Password)
	if err != nil {
		return err
	}
	b.logf("setup %s: registered %d users (%s) in %s", sd.name, len(sd.users), b.opts.Prefix, time.Since(t0).Round(time.Millisecond))
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

// run runs one scenario against one target (a service's name or a floor's)
// for -warmup and -duration, and summarizes it.
func (b *bench) run(ctx context.Context, scenario, target string) (*Result, error) {
	brokenBefore := b.broken()
	res, samples, err := b.runSlice(ctx, scenario, target, b.opts.Warmup, b.opts.Duration)
	if res != nil {
		b.finish(res, samples, brokenBefore)
	}
	return res, err
}

// broken counts the lost refresh chains of every service.
func (b *bench) broken() int {
	n := 0
	for _, sd := range b.sides {
		n += brokenChains(sd.users)
	}
	return n
}

// serviceOp is scenario's operation on service sd, and the workers it runs with.
func (b *bench) serviceOp(sd *side, scenario string, workers int) (Op, int, error) {
	switch scenario {
	case scenarioMe:
		return meOp(sd.api, sd.users, workers), workers, nil
	case scenarioRefresh:
		workers = refreshWorkers(workers, len(sd.users))
		return refreshOp(sd.api, sd.users, workers), workers, nil
	case scenarioLogin:
		return loginOp(sd.api, sd.users, workers, b.loginPassword(sd)), workers, nil
	case scenarioRegister:
		b.seq++
		return registerOp(sd.api, fmt.Sprintf("%s-reg%d", b.opts.Prefix, b.seq), b.opts.Password), workers, nil
	}
	op, err := scaleOp(sd, scenario, workers, b.loginPassword(sd))
	if scenario == scenarioMixed {
		workers = refreshWorkers(workers, len(sd.users))
	}
	return op, workers, err
}

// loginPassword is the virtual users' password on sd.
func (b *bench) loginPassword(sd *side) string {
	if sd.man != nil {
		return sd.man.Password
	}
	return b.opts.Password
}

// runSlice runs one scenario against one target for warmup plus
// duration, and returns the result and the service's RSS samples taken
// in its measured window (none for floors or without -pid).
func (b *bench) runSlice(ctx context.Context, scenario, target string, warmup, duration time.Duration) (*Result, []rssSample, error) {
	var (
		op      Op
		workers = b.opts.Concurrency
		sd      = b.sideNamed(target)
	)
	switch target {
	case floorMe:
		if err := b.ensureFloorMe(ctx); err != nil {
			return nil, nil, err
		}
		op = meOp(b.floorAPI, b.users, workers)
	case floorRefresh, floorRefreshPaced:
		if err := b.ensurePool(ctx); err != nil {
			return nil, nil, err
		}
		workers = refreshWorkers(workers, len(b.users))
		op = floorRefreshOp(b.pool, b.users, workers)
		if target == floorRefreshPaced {
			op = paced(op, b.pace)
		}
	case rotationPaced:
		if b.rotation == nil {
			return nil, nil, errors.New("the rotation target runs in the cost command only")
		}
		op = paced(b.rotation.op(workers), b.pace)
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
		if sd == nil {
			return nil, nil, fmt.Errorf("unknown target %q", target)
		}
		var err error
		if op, workers, err = b.serviceOp(sd, scenario, workers); err != nil {
			return nil, nil, err
		}
	}

	// The process whose memory and CPU time are sampled: the service (with
	// -pid), the floor-me process, or this one for the in-process floors.
	pid, cpuOf := 0, ""
	switch {
	case sd != nil && sd.pid > 0:
		pid, cpuOf = sd.pid, "service"
	case target == floorMe:
		pid, cpuOf = b.floorProc.cmd.Process.Pid, "floor-me process"
	case sd == nil:
		pid, cpuOf = os.Getpid(), "bench process"
	}
	var sampler *rssSampler
	if pid > 0 {
		sampler = startRSS(pid, b.opts.RSSInterval)
	}
	var pgSampler *treeSampler
	if b.pgRoot > 0 {
		pgSampler = startTree(b.pgRoot, b.opts.RSSInterval)
	}
	res := RunLoad(ctx, b.loadConfig(workers, warmup, duration), op)
	res.Scenario, res.Target = scenario, target
	var inWindow []rssSample
	if sampler != nil {
		samples, err := sampler.Stop()
		if err != nil && sd != nil && b.rssErr == nil {
			b.rssErr = fmt.Errorf("reading /proc/%d: %w", pid, err)
		}
		inWindow = within(samples, res.Start, res.End)
		res.CPU, res.CPUOf = cpuOver(inWindow, res.OK(), res.Window), cpuOf
	}
	if pgSampler != nil {
		samples, err := pgSampler.Stop()
		if err != nil {
			b.logf("PostgreSQL CPU: %v", err)
		}
		res.PGCPU = cpuOver(within(samples, res.Start, res.End), res.OK(), res.Window)
	}
	if sd != b.sides[0] {
		inWindow = nil // memory is reported for the service under load only
	}
	return res, inWindow, ctx.Err()
}

// within keeps the samples taken in [from, to].
func within(samples []rssSample, from, to time.Time) []rssSample {
	var out []rssSample
	for _, sm := range samples {
		if !sm.at.Before(from) && !sm.at.After(to) {
			out = append(out, sm)
		}
	}
	return out
}

// finish summarizes memory, adds notes and logs one line.
func (b *bench) finish(res *Result, samples []rssSample, brokenBefore int) {
	if len(samples) > 0 {
		res.RSS = summarizeRSS(samples, samples[0].at, samples[len(samples)-1].at)
		b.noteRSS(res)
	}
	if lost := b.broken() - brokenBefore; lost > 0 && b.sideNamed(res.Target) != nil {
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
			order := []string{b.sides[0].name, t.floor}
			if round%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			acc := map[string]*Result{}
			samples := map[string][]rssSample{}
			broken := b.broken()
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
				ratio = round3(acc[b.sides[0].name].RPS() / f)
			}
			comps[i].Ratios = append(comps[i].Ratios, ratio)
			b.logf("round %d %s: %s/%s = %.3f", round, t.scenario, b.sides[0].name, t.floor, ratio)
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
	acc.PGCPU.cpu += r.PGCPU.cpu
	acc.PGCPU.ops += r.PGCPU.ops
	acc.PGCPU.span += r.PGCPU.span
	acc.CPU.span += r.CPU.span
	acc.End = r.End
	acc.Workers = max(acc.Workers, r.Workers)
	return acc
}
