// Command gatehouse-bench drives a running Gatehouse instance with load and
// measures it against floors: the least any implementation of the same
// work could cost on the same machine. It starts no service by itself.
//
// Usage:
//
//	gatehouse-bench [flags] [scenario...]      service scenarios: me refresh login register
//	gatehouse-bench compare [flags]            service vs floors, -rounds rounds, ratios and verdicts
//	gatehouse-bench floor-me [flags]           GET /users/me vs a bare net/http handler
//	gatehouse-bench floor-refresh [flags]      refresh vs a bare UPDATE ... RETURNING loop
//	gatehouse-bench floor-argon2 [flags]       login vs raw argon2id hashing
//	gatehouse-bench coldstart -binary PATH     exec to first 200 from /readyz, fresh SQLite
//	gatehouse-bench seed -database-url URL -accounts N -manifest PATH
//	                                           migrate and fill a database with a scale fixture
//	gatehouse-bench purge -database-url URL    refresh p99 quiet and while the service's purge runs
//	gatehouse-bench cost -pid N -database-url URL
//	                                           CPU per refresh and login, service and PostgreSQL, beside floors
//	gatehouse-bench summary REPORT.json...     min/median/max of several runs' figures
//
// Every request goes to a loopback address. Scenarios run for -warmup
// (not counted) plus -duration at -concurrency, one after another; the
// floors need -database-url, the service's PostgreSQL DATABASE_URL. With
// -pid the service's RSS is sampled during each service run. Results are
// printed as a table, and as JSON with -json PATH (or -json - for JSON on
// stdout and the table on stderr).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// commands are the subcommands; the default (none) runs service scenarios.
func commands() []string {
	return []string{"compare", floorMe, floorRefresh, floorArgon2, "coldstart", seedCommand, purgeCommand, costCommand, summaryCommand, stubCommand, floorServerCommand}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		os.Exit(1)
	}
}

// cli is the parsed command line.
type cli struct {
	command    string
	scenarios  []string
	jsonOut    string
	opts       Options
	binary     string
	runs       int
	coldFloor  bool
	roundsSet  bool
	remoteOK   bool
	scenarioFl string
	seed       SeedOptions
	// scenariosSet: the scenarios were named (-scenarios or arguments).
	scenariosSet bool
	// files are the summary command's JSON reports.
	files []string
}

// listFlag collects every value of a repeated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseArgs parses flags before and after an optional subcommand; the
// remaining arguments of the default command are scenario names.
func parseArgs(args []string, stderr io.Writer) (*cli, error) {
	c := &cli{}
	o := &c.opts
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var urls, pids, manifests listFlag
	fs.Var(&urls, "url", "base URL of the running service (loopback only; default http://127.0.0.1:3000), as NAME=URL to label it;\n"+
		"compare with a second -url measures each scenario on the first over the same on the second")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per run")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "warm-up before each measured run (not counted)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "workers, each with one request in flight")
	fs.IntVar(&o.Users, "users", 64, "virtual users registered in the setup phase")
	fs.StringVar(&c.jsonOut, "json", "", `write the JSON report to this path ("-": stdout, table to stderr)`)
	fs.StringVar(&c.scenarioFl, "scenarios", strings.Join(allScenarios(), ","), "comma-separated service scenarios (default command)")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds of compare (floor-* default to 1)")
	fs.IntVar(&o.Slices, "slices", 5, "compare: alternating service/floor slices per round (-duration is split among them)")
	fs.Var(&pids, "pid", "service process ID: sample its VmRSS and CPU time during service runs (one per -url, in order)")
	fs.DurationVar(&o.RSSInterval, "rss-interval", 100*time.Millisecond, "RSS sampling interval")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "the service's PostgreSQL URL, for the floors (default $DATABASE_URL)")
	fs.StringVar(&o.Issuer, "jwt-issuer", "gatehouse", "iss the floor accepts (the service's JWT_ISSUER)")
	fs.StringVar(&o.Audience, "jwt-audience", "gatehouse", "aud the floor accepts (the service's JWT_AUDIENCE)")
	var mem, iter, par uint
	fs.UintVar(&mem, "argon2-memory", 19456, "argon2id memory in KiB (the service's PASSWORD_ARGON2_MEMORY)")
	fs.UintVar(&iter, "argon2-iterations", 2, "argon2id iterations (PASSWORD_ARGON2_ITERATIONS)")
	fs.UintVar(&par, "argon2-parallelism", 1, "argon2id lanes (PASSWORD_ARGON2_PARALLELISM)")
	fs.IntVar(&o.Argon2Worker, "argon2-workers", 0, "workers of floor-argon2 (0: GOMAXPROCS, the service's own hash cap; more only bunch completions)")
	fs.IntVar(&o.FloorPool, "floor-pool", 20, "connections of the floors' pgx pool (the service's DB_MAX_OPEN_CONNS)")
	fs.StringVar(&o.FloorCPUProfile, "floor-cpuprofile", "", "write a CPU profile of the floor-me process to this path")
	fs.StringVar(&o.Prefix, "email-prefix", "", "prefix of the virtual users' emails (default: unique per run)")
	fs.StringVar(&o.Password, "password", "bench-Passw0rd-42", "password of the virtual users")
	fs.StringVar(&c.binary, "binary", "", "coldstart: the gatehouse binary")
	fs.IntVar(&c.runs, "runs", 5, "coldstart: number of starts")
	fs.BoolVar(&c.coldFloor, "coldstart-floor", true, "coldstart: also time a bare Go HTTP server, interleaved")
	fs.BoolVar(&c.remoteOK, "allow-remote", false, "allow a non-loopback -url (never needed here)")
	fs.IntVar(&c.seed.Accounts, "accounts", 1000, "seed: accounts to create (besides the administrator)")
	fs.Uint64Var(&c.seed.Seed, "seed", 25, "seed: the generator's seed (the same seed gives the same database)")
	fs.Var(&manifests, "manifest", "seed: where to write the fixture's manifest; otherwise the manifest of the database behind each -url, in order")
	fs.Int64Var(&c.seed.MigrateTo, "migrate-to", 0, "seed: migrate only up to this version first (0: all)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gatehouse-bench [command] [flags] [scenario...]\n\ncommands: (none) %s\n\nflags:\n",
			strings.Join(commands()[:9], " "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if len(rest) > 0 && slices.Contains(commands(), rest[0]) {
		c.command = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
		rest = fs.Args()
	}
	fs.Visit(func(f *flag.Flag) {
		c.roundsSet = c.roundsSet || f.Name == "rounds"
		c.scenariosSet = c.scenariosSet || f.Name == "scenarios"
	})
	c.scenariosSet = c.scenariosSet || len(rest) > 0
	if err := c.targetsFrom(urls, pids, manifests); err != nil {
		return nil, err
	}
	if c.command == summaryCommand {
		c.files, rest = rest, nil
	}
	if c.command != "" && len(rest) > 0 {
		return nil, fmt.Errorf("%s takes no arguments (got %q)", c.command, rest)
	}

	c.scenarios = rest
	if len(c.scenarios) == 0 {
		c.scenarios = splitList(c.scenarioFl)
	}
	known := append(allScenarios(), scaleScenarios()...)
	for _, s := range c.scenarios {
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(known, ", "))
		}
	}
	if mem > 1<<30 || iter > 1<<16 || par < 1 || par > 255 {
		return nil, errors.New("argon2 parameters out of range")
	}
	o.Argon2 = Argon2Params{MemoryKiB: uint32(mem), Iterations: uint32(iter), Parallelism: uint8(par)}
	switch {
	case o.Duration <= 0 || o.Warmup < 0 || o.Timeout <= 0:
		return nil, errors.New("-duration and -timeout must be positive, -warmup not negative")
	case o.Concurrency < 1 || o.Users < 1 || o.Rounds < 1 || c.runs < 1 || o.Slices < 1:
		return nil, errors.New("-concurrency, -users, -rounds, -slices and -runs must be at least 1")
	case o.RSSInterval < time.Millisecond:
		return nil, errors.New("-rss-interval must be at least 1ms")
	}
	if !c.remoteOK {
		for _, u := range append([]namedURL{{URL: o.URL}}, o.Others...) {
			if err := checkLoopback(u.URL); err != nil {
				return nil, err
			}
		}
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = os.Getenv("DATABASE_URL")
	}
	if o.Prefix == "" {
		o.Prefix = runPrefix()
	}
	if strings.HasPrefix(c.command, "floor-") && !c.roundsSet {
		o.Rounds = 1
	}
	return c, nil
}

// targetsFrom sets the services (-url, labelled NAME=URL), their processes
// (-pid) and manifests (-manifest) in order.
func (c *cli) targetsFrom(urls, pids, manifests []string) error {
	o := &c.opts
	if len(urls) == 0 {
		urls = []string{"http://127.0.0.1:3000"}
	}
	if len(pids) > len(urls) {
		return errors.New("more -pid than -url")
	}
	var all []namedURL
	for i, u := range urls {
		n := namedURL{URL: u}
		if name, rest, ok := strings.Cut(u, "="); ok && !strings.Contains(name, "/") {
			n.Name, n.URL = name, rest
		}
		n.URL = strings.TrimRight(n.URL, "/")
		if i < len(pids) {
			pid, err := strconv.Atoi(pids[i])
			if err != nil || pid < 0 {
				return fmt.Errorf("-pid %q: not a process ID", pids[i])
			}
			n.PID = pid
		}
		all = append(all, n)
	}
	o.URL, o.Name, o.PID, o.Others = all[0].URL, all[0].Name, all[0].PID, all[1:]
	o.Manifests = manifests
	if len(manifests) > 0 {
		c.seed.Manifest = manifests[0]
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// run is main without the process: it parses args, measures, and prints.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	switch c.command {
	case stubCommand:
		return runStub(ctx)
	case floorServerCommand:
		return runFloorMeServer(ctx, c.opts, c.opts.FloorCPUProfile, stdout)
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
	}
	rep := &Report{
		Command:   c.command,
		StartedAt: time.Now().UTC(),
		Settings: Settings{
			Duration: c.opts.Duration.String(), Warmup: c.opts.Warmup.String(),
			Concurrency: c.opts.Concurrency, Users: c.opts.Users, GOMAXPROCS: runtime.GOMAXPROCS(0),
		},
		Results: []ResultJSON{},
	}
	if rep.Command == "" {
		rep.Command = "scenarios"
	}

	if c.command == summaryCommand {
		return runSummary(c.files, stdout)
	}
	if c.command == seedCommand {
		if c.seed.Accounts < 1 {
			return errors.New("-accounts must be at least 1")
		}
		return runSeed(ctx, c.opts, c.seed, stdout, logf)
	}
	var runErr error
	if c.command == "coldstart" {
		rep.ColdStart, runErr = runColdStart(ctx, ColdStartConfig{
			Binary: c.binary, Runs: c.runs, Poll: 2 * time.Millisecond, Timeout: 10 * time.Second, Floor: c.coldFloor,
		}, logf)
		rep.Settings = Settings{GOMAXPROCS: runtime.GOMAXPROCS(0)}
		if runErr != nil {
			return runErr
		}
	} else {
		rep.URL = c.opts.URL
		runErr = runLoadCommand(ctx, c, rep, logf, stderr)
		if runErr != nil && len(rep.Results) == 0 {
			return runErr
		}
	}
	if err := emit(c.jsonOut, rep, stdout, stderr); err != nil {
		return err
	}
	return runErr
}

// runLoadCommand runs the default command, compare or a floor-* command
// into rep.
func runLoadCommand(ctx context.Context, c *cli, rep *Report, logf func(string, ...any), stderr io.Writer) error {
	b := newBench(c.opts, logf, stderr)
	defer b.Close()
	if err := b.setup(ctx); err != nil {
		return err
	}
	defer func() { rep.Memory = b.memoryReport() }()

	switch c.command {
	case purgeCommand:
		return runPurgeCommand(ctx, b, rep, logf)
	case costCommand:
		rep.Settings.Rounds = c.opts.Rounds
		return runCostCommand(ctx, b, rep)
	}
	if c.command == "" {
		for _, s := range c.scenarios {
			res, err := b.run(ctx, s, b.sides[0].name)
			if res != nil {
				rep.Results = append(rep.Results, res.toJSON(0))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}

	specs := targets()
	if c.command != "compare" {
		specs = slices.DeleteFunc(specs, func(t targetSpec) bool { return t.floor != c.command })
	}
	if c.command == "compare" && len(b.sides) > 1 {
		// Two services: each scenario on the first over the same on the second.
		scenarios := c.scenarios
		if !c.scenariosSet {
			scenarios = []string{scenarioMe, scenarioRefresh, scenarioLogin}
		}
		specs = sizeTargets(scenarios, b.sides[1].name)
	}
	rep.Settings.Rounds = c.opts.Rounds
	rows, comps, err := b.compare(ctx, specs, c.opts.Rounds)
	rep.Results = append(rep.Results, rows...)
	if err == nil {
		rep.Comparisons = comps
	}
	return err
}

// emit prints the table, and the JSON where -json asks for it.
func emit(jsonOut string, rep *Report, stdout, stderr io.Writer) error {
	table := stdout
	if jsonOut == "-" {
		table = stderr
	}
	if err := printReport(table, rep); err != nil {
		return err
	}
	switch jsonOut {
	case "":
		return nil
	case "-":
		return writeJSON(stdout, rep)
	default:
		f, err := os.Create(jsonOut)
		if err != nil {
			return err
		}
		if err := writeJSON(f, rep); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
}
