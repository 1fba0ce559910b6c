//go:build ha

package hatest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/webhooktest"
)

// TestWebhookDelivery runs two instances behind HAProxy under a load of
// logins, refreshes and logouts, SIGKILLs one instance again and again
// (some kills land mid-post: each post takes 20 ms at the sink), stops the
// receiver for a while, and then counts: every session whose login was
// acknowledged has its session.created delivered (at least once), no event
// was ever posted by two instances at the same time, and every signature
// checks out. The figures are logged for the report.
func TestWebhookDelivery(t *testing.T) {
	// The app's endpoint: each post takes a little while, so that overlaps,
	// if the claims allowed any, would be seen.
	sk := webhooktest.New(t, webhooktest.Secret)
	sk.SetDelay(20 * time.Millisecond)
	top := Start(t, Options{Instances: 2, Env: []string{
		"REFRESH_REUSE_GRACE=60s",
		"WEBHOOK_URL=" + sk.URL, "WEBHOOK_SECRET=" + webhooktest.Secret, "WEBHOOK_POLL_INTERVAL=100ms",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	load, err := NewLoad(ctx, top.URL(), LoadOptions{Users: 10, Chains: 30, Workers: 6, Rate: 80})
	if err != nil {
		t.Fatalf("set up load: %v", err)
	}
	// First a while with no fault: what arrives then shows the order one
	// user's events keep while none fails (two instances sending).
	load.Start()
	sleepCtx(ctx, 6*time.Second)
	load.Stop()
	calm := load.Started()
	waitDelivered(ctx, sk, calm, time.Minute)
	calmEvents := sk.Events()

	const kills = 6
	load.Start()
	for round := range kills {
		sleepCtx(ctx, 2*time.Second)
		if err := top.Instances[0].Kill(); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		sleepCtx(ctx, time.Second)
		if err := top.Instances[0].Start(); err != nil {
			t.Fatalf("round %d: restart: %v", round, err)
		}
		if round == kills/2 {
			// The receiver goes away for 8 seconds (503 to every post).
			sk.SetDown(true)
			sleepCtx(ctx, 8*time.Second)
			sk.SetDown(false)
		}
	}
	load.Stop()
	started := load.Started()

	// Every acknowledged session's event arrives: the ones claimed by a
	// killed instance once their lease (30 s) runs out, the ones refused
	// by the sink after their back-off.
	missing := waitDelivered(ctx, sk, started, 3*time.Minute)
	st, disorder := sk.Stats(), len(webhooktest.OutOfOrder(sk.Events()))
	t.Logf("no fault, two instances: %d events, %d of a user delivered after a newer one of that user "+
		"(timestamps are taken before commit, so two transactions of one user committing out of step count here too)",
		len(calmEvents), len(webhooktest.OutOfOrder(calmEvents)))
	t.Logf("%d kills of g1 and an 8 s receiver outage under load: %d acknowledged logins, %d events delivered "+
		"(%d posts; %d events posted more than once), %d posts refused during the outage, %d concurrent posts of one event, "+
		"%d bad signatures, %d acknowledged sessions without session.created, %d events of a user delivered after a newer one of that user",
		kills, len(started), st.Events, st.Posts, st.Repeated, st.Refused, st.Concurrent, st.BadSignatures, len(missing), disorder)
	if len(missing) > 0 {
		t.Errorf("lost: %d acknowledged sessions never reported, e.g. %s", len(missing), missing[0])
	}
	if st.Concurrent > 0 {
		t.Errorf("%d posts of an event while another post of it was in flight", st.Concurrent)
	}
	if st.BadSignatures > 0 {
		t.Errorf("%d posts with a bad signature", st.BadSignatures)
	}
	if st.Refused == 0 {
		t.Error("the outage refused nothing: it tested nothing")
	}
}

// waitDelivered waits until every session in started has its
// session.created at the sink, or until wait has passed, and returns the
// ones still missing.
func waitDelivered(ctx context.Context, sk *webhooktest.Receiver, started []string, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		delivered := map[string]bool{}
		for _, e := range sk.Events() {
			if e.Type == "session.created" {
				sid, _ := e.Data["sessionId"].(string)
				delivered[sid] = true
			}
		}
		var missing []string
		for _, sid := range started {
			if !delivered[sid] {
				missing = append(missing, sid)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return missing
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}
