//go:build ha

package hatest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// faultRow is one line of the fault table.
type faultRow struct {
	name      string
	byStatus  map[int]int   // failed requests during the fault, by status (0: no response)
	outside   int           // failed requests outside any fault window
	lastErr   time.Duration // last failure after the injection (0: none failed)
	restored  time.Duration // until every instance was back up in HAProxy
	requests  int64
	check     Check
	badStatus []string
}

// fault is one injection: inject breaks something and repairs it the way
// an operator or supervisor would, returning once the repair was made.
type fault struct {
	name   string
	inject func(ctx context.Context, top *Topology) error
}

// TestFaults runs a steady mixed load through HAProxy and injects one fault
// at a time, then checks the invariants through the API.
func TestFaults(t *testing.T) {
	top := Start(t, Options{Instances: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	load, err := NewLoad(ctx, top.URL(), LoadOptions{Users: 30, Chains: 120, Workers: 12, Rate: 150})
	if err != nil {
		t.Fatalf("set up load: %v", err)
	}
	restart := func(i int, stop func() error) func(context.Context, *Topology) error {
		return func(ctx context.Context, top *Topology) error {
			if err := stop(); err != nil {
				return err
			}
			// A supervisor restarts it; meanwhile HAProxy routes around it.
			sleepCtx(ctx, 2*time.Second)
			return top.Instances[i].Start()
		}
	}
	faults := []fault{
		{"SIGKILL instance g1", restart(0, top.Instances[0].Kill)},
		{"SIGTERM instance g2", restart(1, top.Instances[1].Term)},
		{"PgBouncer restart", func(ctx context.Context, top *Topology) error {
			if err := top.Bouncer.Stop(); err != nil {
				return err
			}
			sleepCtx(ctx, time.Second)
			return top.Bouncer.Start()
		}},
		{"primary stopped, replica promoted", func(ctx context.Context, top *Topology) error {
			if err := top.Primary.Stop(); err != nil {
				return err
			}
			sleepCtx(ctx, time.Second) // the failover tool notices
			return top.Failover(ctx)
		}},
	}

	var rows []faultRow
	var windows [][2]time.Time
	for _, f := range faults {
		load.Start()
		sleepCtx(ctx, 3*time.Second) // steady state before the fault
		sentBefore := load.sent.Load()
		t0 := time.Now()
		t.Logf("%s: injected at %s", f.name, t0.Format("15:04:05.000"))
		if err := f.inject(ctx, top); err != nil {
			load.Stop()
			t.Fatalf("%s: %v", f.name, err)
		}
		if err := top.LB.WaitUp(ctx, len(top.Instances)); err != nil {
			load.Stop()
			t.Fatalf("%s: %v", f.name, err)
		}
		restored := time.Since(t0)
		sleepCtx(ctx, 5*time.Second) // and steady state after it
		load.Stop()
		end := time.Now()
		windows = append(windows, [2]time.Time{t0, t0.Add(restored + 2*time.Second)})
		row := faultRow{name: f.name, byStatus: map[int]int{}, restored: restored,
			requests: load.sent.Load() - sentBefore}
		for _, fl := range load.Failures() {
			if fl.at.Before(t0) || fl.at.After(end) {
				continue
			}
			if !fl.at.Before(windows[len(windows)-1][1]) {
				row.outside++
				row.badStatus = append(row.badStatus, fmt.Sprintf("%s at +%s after the fault window: %s", fl.op, fl.at.Sub(t0).Round(time.Millisecond), fl.what))
				continue
			}
			row.byStatus[fl.status]++
			row.lastErr = max(row.lastErr, fl.at.Sub(t0))
			if fl.status != 503 {
				row.badStatus = append(row.badStatus, fmt.Sprintf("%s at +%s: %s", fl.op, fl.at.Sub(t0).Round(time.Millisecond), fl.what))
			}
		}
		row.check = load.CheckInvariants(ctx, -1)
		rows = append(rows, row)
	}

	// Failures outside every fault window (steady phases included).
	outside := 0
	for _, fl := range load.Failures() {
		in := false
		for _, w := range windows {
			if !fl.at.Before(w[0]) && fl.at.Before(w[1]) {
				in = true
			}
		}
		if !in {
			outside++
			if outside <= 10 {
				t.Errorf("outside the fault windows: %s at %s: %s", fl.op, fl.at.Format("15:04:05.000"), fl.what)
			}
		}
	}

	t.Log("\n" + faultTable(rows, load.sent.Load(), outside))
	for _, r := range rows {
		for _, b := range r.badStatus[:min(len(r.badStatus), 10)] {
			t.Errorf("%s: %s", r.name, b)
		}
		if !r.check.OK() {
			t.Errorf("%s: invariants: %s; %s", r.name, r.check, strings.Join(r.check.Problems, "; "))
		}
	}
	if outside > 0 {
		t.Errorf("%d requests failed outside the fault windows", outside)
	}
}

func faultTable(rows []faultRow, total int64, outside int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| fault | requests | failed by status | last failure after injection | all instances up after | invariants |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, r := range rows {
		st := "none"
		if len(r.byStatus) > 0 {
			var parts []string
			for _, s := range slices.Sorted(maps.Keys(r.byStatus)) {
				name := fmt.Sprint(s)
				if s == 0 {
					name = "no response"
				}
				parts = append(parts, fmt.Sprintf("%s: %d", name, r.byStatus[s]))
			}
			st = strings.Join(parts, ", ")
		}
		last := "-"
		if r.lastErr > 0 {
			last = r.lastErr.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", r.name, r.requests, st, last,
			r.restored.Round(time.Millisecond), r.check)
	}
	fmt.Fprintf(&b, "total requests %d; failed outside the fault windows: %d\n", total, outside)
	return b.String()
}
