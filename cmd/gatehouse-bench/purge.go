package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/adapter/persistence"
	"github.com/gatehouse/gatehouse/domain/session"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/scale"
	"github.com/gatehouse/gatehouse/usecase/account"
	"github.com/gatehouse/gatehouse/usecase/authn"
)

// purgeCommand measures refresh while the background purge runs.
const purgeCommand = "purge"

// purgeP99Limit is how much the refresh p99 may grow during a purge
// (issue 25: within 2x of its quiet value).
const purgeP99Limit = 2.0

// PurgeReport is what the purge command measured.
type PurgeReport struct {
	Sessions      int     `json:"sessionsDeleted"`
	Events        int     `json:"eventsDeleted"`
	Seconds       float64 `json:"seconds"`
	QuietP99Ms    float64 `json:"quietP99Ms"`
	DuringP99Ms   float64 `json:"duringP99Ms"`
	Ratio         float64 `json:"ratio"`
	Verdict       string  `json:"verdict"`
	SessionsError string  `json:"sessionsError,omitempty"`
}

// systemClock is the clock of the purge run here: the real one.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// runPurgeCommand runs refresh on the service for -duration (quiet), then
// again while this process runs the service's own purge (the session
// purger of usecase/authn and the event retention of usecase/account, on
// the service's database with the service's batch sizes) until the purge
// ends, then quiet once more.
func runPurgeCommand(ctx context.Context, b *bench, rep *Report, logf func(string, ...any)) error {
	t, err := scale.ParseTarget(b.opts.DatabaseURL)
	if err != nil {
		return fmt.Errorf("purge: -database-url (the service's DATABASE_URL): %w", err)
	}
	quiet, err := b.run(ctx, scenarioRefresh, b.sides[0].name)
	if quiet != nil {
		rep.Results = append(rep.Results, quiet.toJSON(0))
	}
	if err != nil {
		return err
	}
	db, err := database.Open(database.Config{Driver: t.Driver, DSN: t.DSN, MaxOpenConns: 2}, nil)
	if err != nil {
		return err
	}
	defer func() {
		if sdb, err := db.DB(); err == nil {
			_ = sdb.Close()
		}
	}()
	purger := authn.NewPurger(persistence.NewSessionStore(db), nil, nil, systemClock{},
		session.Policy{ReuseGrace: 10 * time.Second})
	events := account.NewEventPurger(persistence.NewAuditLog(db), systemClock{}, 365*24*time.Hour)

	pctx, stop := context.WithCancel(ctx)
	out := &PurgeReport{}
	done := make(chan error, 1)
	began := time.Now()
	go func() {
		defer stop()
		n, err := purger.PurgeEnded(pctx)
		out.Sessions = n
		if err != nil {
			done <- fmt.Errorf("purge sessions: %w", err)
			return
		}
		logf("purge: %d ended sessions deleted in %s", n, time.Since(began).Round(time.Millisecond))
		m, err := events.PurgeEvents(pctx)
		out.Events = m
		logf("purge: %d old events deleted", m)
		done <- err
	}()
	// The load runs in one-second slices until the purge ends, so no
	// request is cut off when it does.
	broken := b.broken()
	workers := refreshWorkers(b.opts.Concurrency, len(b.users))
	op := refreshOp(b.api, b.users, workers)
	var during *Result
	for during == nil || pctx.Err() == nil && ctx.Err() == nil {
		during = mergeResults(during, RunLoad(ctx, b.loadConfig(workers, 0, time.Second), op))
	}
	during.Scenario, during.Target = scenarioRefresh+"-during-purge", b.sides[0].name
	perr := <-done
	out.Seconds = round3(time.Since(began).Seconds())
	b.finish(during, nil, broken)
	rep.Results = append(rep.Results, during.toJSON(0))
	if perr != nil && !errors.Is(perr, context.Canceled) {
		return perr
	}
	after, err := b.run(ctx, scenarioRefresh, b.sides[0].name)
	if after != nil {
		after.Scenario = scenarioRefresh + "-after"
		rep.Results = append(rep.Results, after.toJSON(0))
	}
	out.QuietP99Ms = round3(ms(quiet.Latency.Quantile(0.99)))
	out.DuringP99Ms = round3(ms(during.Latency.Quantile(0.99)))
	if out.QuietP99Ms > 0 {
		out.Ratio = round3(out.DuringP99Ms / out.QuietP99Ms)
	}
	out.Verdict = verdict(out.Ratio > 0 && out.Ratio <= purgeP99Limit)
	rep.Purge = out
	return err
}

// printPurge writes the purge command's summary.
func printPurge(w io.Writer, p *PurgeReport) {
	fmt.Fprintf(w, "purge: %d sessions and %d events deleted in %.1f s; refresh p99 quiet %.2f ms, during %.2f ms: %.2fx (need <= %.0fx): %s\n",
		p.Sessions, p.Events, p.Seconds, p.QuietP99Ms, p.DuringP99Ms, p.Ratio, purgeP99Limit, p.Verdict)
}
