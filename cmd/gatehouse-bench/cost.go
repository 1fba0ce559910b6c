package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// costCommand reports what the hot paths cost in CPU per operation, split
// into the service's and PostgreSQL's.
const costCommand = "cost"

// Targets of the cost command besides the service and the floors.
const (
	// floorRefreshPaced is the floor's UPDATE sent at the rate the
	// service's refresh reached in the same round: PostgreSQL's CPU per
	// statement depends on the rate (its background processes and each
	// commit's flush are shared by fewer statements at a lower one), so
	// the two are compared at the same rate.
	floorRefreshPaced = "floor-refresh-paced"
	// rotationPaced is the service's own rotation statement
	// (persistence.SessionStore.RotateCurrent, pgx as in the service)
	// without HTTP, on seeded sessions, at the same rate.
	rotationPaced = "rotation-paced"
)

// Targets of issue 25 for the CPU per operation.
const (
	refreshServiceCPUMax = 0.22 // ms of service CPU per refresh
	refreshPGRatioMax    = 1.3  // PostgreSQL CPU per refresh over the floor's, at the same rate
	loginOutsideHashMax  = 3.0  // ms: service CPU less the hash, plus PostgreSQL
)

// CostFigure is one figure of the cost report over the rounds.
type CostFigure struct {
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Rounds  []float64 `json:"rounds"`
	Min     float64   `json:"min"`
	Median  float64   `json:"median"`
	Max     float64   `json:"max"`
	Need    string    `json:"need,omitempty"`
	Verdict string    `json:"verdict,omitempty"`
}

// costSlice is one measured run of the cost command.
type costSlice struct{ scenario, target string }

// runCostCommand measures, in -rounds interleaved rounds: refresh on the
// service, the floor's UPDATE and the rotation statement at the service's
// rate, the floor flat out, login on the service and raw argon2id. It
// needs -pid and the service's PostgreSQL -database-url.
func runCostCommand(ctx context.Context, b *bench, rep *Report) error {
	if b.sides[0].pid <= 0 || b.pgRoot <= 0 {
		return errors.New("cost needs -pid (the service) and -database-url (its PostgreSQL, on this machine)")
	}
	rot, err := newRotationLoop(ctx, b.opts.DatabaseURL, b.users)
	if err != nil {
		return err
	}
	defer rot.close()
	b.rotation = rot
	svc := b.sides[0].name
	plan := []costSlice{
		{scenarioRefresh, svc}, {scenarioRefresh, floorRefreshPaced}, {scenarioRefresh, rotationPaced},
		{scenarioRefresh, floorRefresh}, {scenarioLogin, svc}, {scenarioLogin, floorArgon2},
	}
	per := map[string][]float64{}
	add := func(name string, v float64) { per[name] = append(per[name], round3(v)) }
	for round := 1; round <= b.opts.Rounds; round++ {
		// PostgreSQL's CPU while nothing is asked of it (background
		// processes, other databases' idle clients), taken off every
		// figure of the round: at a few logins a second it would
		// otherwise count as login work.
		idle, err := idleRate(ctx, b.pgRoot, 2*time.Second)
		if err != nil {
			return err
		}
		add("PostgreSQL idle CPU (ms per second)", idle*1000)
		pg := func(r *Result) float64 { return ms(r.PGCPUPerOpLess(idle)) }
		got := map[costSlice]*Result{}
		for _, sl := range plan {
			before := b.broken()
			res, samples, err := b.runSlice(ctx, sl.scenario, sl.target, b.opts.Warmup, b.opts.Duration)
			if err != nil {
				return err
			}
			b.finish(res, samples, before)
			rep.Results = append(rep.Results, res.toJSON(round))
			got[sl] = res
			if sl.target == svc && sl.scenario == scenarioRefresh {
				b.pace = res.RPS()
			}
		}
		r := got[plan[0]]
		fp, rp, fl := got[plan[1]], got[plan[2]], got[plan[3]]
		lg, ar := got[plan[4]], got[plan[5]]
		add("refresh service CPU", ms(r.CPUPerOp()))
		add("refresh PostgreSQL CPU", pg(r))
		add("floor UPDATE PostgreSQL CPU, same rate", pg(fp))
		add("rotation statement PostgreSQL CPU, same rate", pg(rp))
		add("floor UPDATE PostgreSQL CPU, flat out", pg(fl))
		if f := pg(fp); f > 0 {
			add("refresh PostgreSQL CPU / floor's, same rate", pg(r)/f)
			add("rotation statement / floor's, same rate", pg(rp)/f)
		}
		add("login service CPU", ms(lg.CPUPerOp()))
		add("argon2id hash CPU", ms(ar.CPUPerOp()))
		add("login PostgreSQL CPU", pg(lg))
		add("login CPU outside argon2id", ms(lg.CPUPerOp())-ms(ar.CPUPerOp())+pg(lg))
	}
	names := []string{
		"PostgreSQL idle CPU (ms per second)", "refresh service CPU", "refresh PostgreSQL CPU", "floor UPDATE PostgreSQL CPU, same rate",
		"rotation statement PostgreSQL CPU, same rate", "floor UPDATE PostgreSQL CPU, flat out",
		"refresh PostgreSQL CPU / floor's, same rate", "rotation statement / floor's, same rate",
		"login service CPU", "argon2id hash CPU", "login PostgreSQL CPU", "login CPU outside argon2id",
	}
	needs := map[string][2]any{
		"refresh service CPU":                         {"<= 0.22 ms", refreshServiceCPUMax},
		"refresh PostgreSQL CPU / floor's, same rate": {"<= 1.3", refreshPGRatioMax},
		"login CPU outside argon2id":                  {"<= 3 ms", loginOutsideHashMax},
	}
	for _, n := range names {
		vals := per[n]
		if len(vals) == 0 {
			continue
		}
		f := CostFigure{Name: n, Unit: "ms", Rounds: vals}
		if strings.Contains(n, " / ") {
			f.Unit = "x"
		}
		s := slices.Sorted(slices.Values(vals))
		f.Min, f.Median, f.Max = s[0], round3(median(s)), s[len(s)-1]
		if need, ok := needs[n]; ok {
			f.Need = need[0].(string)
			f.Verdict = verdict(f.Median <= need[1].(float64))
		}
		rep.Costs = append(rep.Costs, f)
	}
	return nil
}

// idleRate is the CPU time PostgreSQL spends per second with no load from
// this tool, over d.
func idleRate(ctx context.Context, root int, d time.Duration) (float64, error) {
	t0, err := treeTicks(root)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	t1, err := treeTicks(root)
	if err != nil {
		return 0, err
	}
	return (time.Duration(t1-t0) * clockTick).Seconds() / time.Since(began).Seconds(), nil
}

// printCosts writes the cost report.
func printCosts(w io.Writer, cs []CostFigure) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CPU PER OPERATION\tMIN\tMEDIAN\tMAX\tNEED\tVERDICT\t")
	for _, c := range cs {
		unit := " ms"
		if c.Unit == "x" {
			unit = "x"
		}
		fmt.Fprintf(tw, "%s\t%.3f%s\t%.3f%s\t%.3f%s\t%s\t%s\t\n", c.Name, c.Min, unit, c.Median, unit, c.Max, unit, c.Need, c.Verdict)
	}
	return tw.Flush()
}

// paced runs op at rate calls a second across all workers (as fast as it
// can for a rate of 0): call n may start at n/rate seconds after the first,
// so a late call is followed by the next at once and the slice keeps the
// rate on average, whatever the scheduler's delays.
func paced(op Op, rate float64) Op {
	if rate <= 0 {
		return op
	}
	var (
		n     atomic.Int64
		start = time.Now()
		gap   = float64(time.Second) / rate
	)
	return func(ctx context.Context, w, iter int) error {
		at := start.Add(time.Duration(float64(n.Add(1)-1) * gap))
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		return op(ctx, w, iter)
	}
}

// rotationLoop runs the service's rotation statement through its own
// store on seeded sessions (never the load's own, whose tokens the service
// holds), each worker on sessions of its own.
type rotationLoop struct {
	db    *gorm.DB
	store *persistence.SessionStore
	sess  []rotSession
}

type rotSession struct {
	id   string
	hash [32]byte
	gen  int64
}

// rotationPolicy is the service's default session policy.
var rotationPolicy = session.Policy{IdleTTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

func newRotationLoop(ctx context.Context, databaseURL string, users []*vuser) (*rotationLoop, error) {
	db, err := database.Open(database.Config{Driver: database.DriverPostgres, DSN: databaseURL, MaxOpenConns: 20, MaxIdleConns: 20}, nil)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, u := range users {
		mine[u.SessionID] = true
	}
	rows, err := db.WithContext(ctx).Raw(`SELECT id, token_hash, generation FROM sessions
		WHERE revoked_at IS NULL AND token_hash IS NOT NULL AND idle_expires_at > now() + interval '1 day'
		AND absolute_expires_at > now() + interval '1 day' LIMIT 200`).Rows()
	if err != nil {
		_ = database.Close(db)
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	l := &rotationLoop{db: db, store: persistence.NewSessionStore(db)}
	for rows.Next() {
		var (
			s rotSession
			h []byte
		)
		if err := rows.Scan(&s.id, &h, &s.gen); err != nil {
			_ = database.Close(db)
			return nil, err
		}
		if !mine[s.id] && len(h) == 32 && len(l.sess) < 64 {
			copy(s.hash[:], h)
			l.sess = append(l.sess, s)
		}
	}
	if len(l.sess) < 16 {
		_ = database.Close(db)
		return nil, fmt.Errorf("cost: %d active sessions besides the load's own; seed the database first", len(l.sess))
	}
	return l, nil
}

func (l *rotationLoop) close() { _ = database.Close(l.db) }

// op rotates worker w's sessions in turn, as RotateCurrent does for a
// refresh: the current hash presented, a new one and a sealed successor
// (of a real one's size) stored.
func (l *rotationLoop) op(workers int) Op {
	return func(ctx context.Context, w, iter int) error {
		owned := (len(l.sess) - w + workers - 1) / workers
		if owned <= 0 {
			return errWorkerDone
		}
		i := w + (iter%owned)*workers
		s := l.sess[i] // worker w alone touches index i
		var next [32]byte
		sealed := make([]byte, 126)
		_, _ = rand.Read(next[:])
		_, _ = rand.Read(sealed)
		_, _, ok, err := l.store.RotateCurrent(ctx, authn.RotateInput{
			Token:  session.Presented{SessionID: s.id, Hash: s.hash, Generation: s.gen},
			Policy: rotationPolicy, Now: time.Now(), Next: next, SuccessorSealed: sealed,
		})
		if err != nil {
			return kindError{kind: "database", err: err}
		}
		if !ok {
			return kindError{kind: "rotation declined", err: fmt.Errorf("session %s", s.id)}
		}
		l.sess[i].hash, l.sess[i].gen = next, s.gen+1
		return nil
	}
}
