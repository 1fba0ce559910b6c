package pgtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPooledNeedsExecMode shows why BouncerExecMode exists: through
// PgBouncer in transaction mode, two client connections running the same
// statement with pgx's default mode both prepare it under one name on the
// same server connection, and the second fails; with BouncerExecMode both
// succeed.
func TestPooledNeedsExecMode(t *testing.T) {
	pooled := Pooled(t, URL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(url string) error {
		a, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close(ctx)
		b, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		for range 3 {
			for _, c := range []*pgx.Conn{a, b} {
				var n int
				if err := c.QueryRow(ctx, "SELECT $1::int + 1", 41).Scan(&n); err != nil {
					return err
				}
				if n != 42 {
					t.Fatalf("got %d", n)
				}
			}
		}
		return nil
	}
	if err := run(pooled); err != nil {
		t.Fatalf("with %s: %v", BouncerExecMode, err)
	}
	plain := strings.Replace(pooled, "&"+BouncerExecMode, "", 1)
	if plain == pooled {
		t.Fatalf("URL %s lacks %s", pooled, BouncerExecMode)
	}
	if err := run(plain); err == nil || !strings.Contains(err.Error(), "prepared statement") {
		t.Fatalf("pgx's default mode through transaction pooling: err = %v, want a prepared statement error", err)
	}
}
