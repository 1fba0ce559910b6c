//go:build ha

package hatest

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	soakDuration = flag.Duration("soak.duration", 10*time.Minute, "how long TestSoak runs the load")
	soakEvery    = flag.Duration("soak.every", time.Minute, "how often TestSoak reports")
)

// TestSoak runs the mixed load against the topology for -soak.duration and
// reports, every -soak.every, throughput, latency, and each instance's
// resident memory, goroutines, open descriptors and pool connections. It
// fails when goroutines or descriptors keep growing (a leak), or when the
// invariants do not hold at the end. make soak runs it; CI does not.
func TestSoak(t *testing.T) {
	top := Start(t, Options{Instances: 3})
	ctx, cancel := context.WithTimeout(context.Background(), *soakDuration+5*time.Minute)
	defer cancel()
	load, err := NewLoad(ctx, top.URL(), LoadOptions{Users: 50, Chains: 200, Workers: 16, Rate: 200})
	if err != nil {
		t.Fatalf("set up load: %v", err)
	}
	t.Logf("soak: %s, report every %s, 3 instances, 200 chains, at most 200 req/s", *soakDuration, *soakEvery)
	t.Log("| at | req/s | p50 | p99 | failed | per instance: RSS MiB / goroutines / fds / pool open (in use) |")
	load.Start()
	start := time.Now()
	var first, last []ProcStat
	failed := 0
	for time.Since(start) < *soakDuration {
		sleepCtx(ctx, min(*soakEvery, *soakDuration-time.Since(start)))
		tick := load.Interval()
		nowFailed := len(load.Failures())
		var cols []string
		var stats []ProcStat
		for _, inst := range top.Instances {
			st, err := inst.Stat(ctx)
			if err != nil {
				t.Errorf("%s: %v", inst.Name, err)
				continue
			}
			stats = append(stats, st)
			cols = append(cols, fmt.Sprintf("%s %.0f / %d / %d / %d (%d)", inst.Name,
				float64(st.RSSKiB)/1024, st.Goroutines, st.FDs, st.PoolOpen, st.PoolInUse))
		}
		t.Logf("| %s | %.0f | %s | %s | %d | %s |", time.Since(start).Round(time.Second), tick.Rate,
			tick.P50.Round(100*time.Microsecond), tick.P99.Round(100*time.Microsecond), nowFailed-failed, strings.Join(cols, "; "))
		failed = nowFailed
		if first == nil {
			first = stats
		}
		last = stats
	}
	load.Stop()
	if n := len(load.Failures()); n > 0 {
		t.Errorf("%d requests failed without any fault, first: %+v", n, load.Failures()[0])
	}
	// A leak grows with time; the first report is after warm-up. Allow
	// noise: a burst may leave a few more goroutines or idle connections.
	for i := range min(len(first), len(last)) {
		if last[i].Goroutines > first[i].Goroutines*3/2+20 {
			t.Errorf("%s: goroutines grew from %d to %d", top.Instances[i].Name, first[i].Goroutines, last[i].Goroutines)
		}
		if last[i].FDs > first[i].FDs*3/2+20 {
			t.Errorf("%s: open descriptors grew from %d to %d", top.Instances[i].Name, first[i].FDs, last[i].FDs)
		}
	}
	if c := load.CheckInvariants(ctx, 500); !c.OK() {
		t.Errorf("invariants after the soak: %s; %s", c, strings.Join(c.Problems, "; "))
	} else {
		t.Logf("after the soak: %s", c)
	}
}
