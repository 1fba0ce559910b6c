package main

import (
	"os"
	"strconv"
	"testing"
)

// attackScale reads an integer knob for the attack re-runs of issue 21
// (ATTACK_FIGURES=1 runs them at the review's scale and logs the figures);
// small by default, so make test stays quick.
func attackScale(t *testing.T, small, full int) int {
	t.Helper()
	if os.Getenv("ATTACK_FIGURES") == "" {
		return small
	}
	return full
}

type securityEvent struct {
	Type       string `json:"type"`
	Suppressed int    `json:"suppressed"`
}

// allEvents pages through c's security events, newest first.
func allEvents(t *testing.T, c *client) []securityEvent {
	t.Helper()
	var out []securityEvent
	cursor := ""
	for {
		path := "/users/me/security-events?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := c.do("GET", path, nil)
		expect(t, r, 200, "")
		var page struct {
			Items      []securityEvent `json:"items"`
			NextCursor *string         `json:"nextCursor"`
		}
		r.data(t, &page)
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

// Issue 21 item 3: an attacker who fills SECURITY_EVENT_LIMIT with
// reauthentications hides nothing that changes the account: the factor
// added afterwards is recorded, and one marker counts what was dropped.
func TestSecurityEventFloodKeepsAccountEvents(t *testing.T) {
	engines(t, func(t *testing.T, dbURL func(t *testing.T) string) {
		limit := attackScale(t, 12, 300)
		env := testEnv(dbURL(t))
		env["SECURITY_EVENT_LIMIT"] = strconv.Itoa(limit) + "/1h"
		env["RATE_LIMIT_PER_IP"] = "0"
		s := startServer(t, env)
		c := s.client()
		c.register("flood@example.com", "flood password 1") // login_succeeded: routine
		flood := limit + 5
		for range flood {
			r := c.do("POST", "/auth/reauthenticate", map[string]any{"password": "flood password 1"})
			expect(t, r, 200, "")
			var p tokenPair
			r.data(t, &p)
			c.bearer = p.AccessToken
		}
		enableTOTP(t, c)
		events := allEvents(t, c)
		counts := map[string]int{}
		suppressed := 0
		for _, e := range events {
			counts[e.Type]++
			suppressed += e.Suppressed
		}
		t.Logf("limit %d, %d reauthentications then TOTP enabled: %d events kept %v, %d counted as suppressed",
			limit, flood, len(events), counts, suppressed)
		if counts["mfa_enabled"] != 1 {
			t.Errorf("the factor added after the flood was not recorded: %v", counts)
		}
		if counts["login_succeeded"]+counts["reauthenticated"] != limit {
			t.Errorf("%d routine events kept, want the bound %d", counts["login_succeeded"]+counts["reauthenticated"], limit)
		}
		if counts["events_suppressed"] != 1 || suppressed != flood+1-limit {
			t.Errorf("%d markers counting %d, want one counting %d", counts["events_suppressed"], suppressed, flood+1-limit)
		}
	})
}
