package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/adapter/password"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/internal/scale"
)

// seedCommand fills a database with a scale fixture (internal/scale).
const seedCommand = "seed"

// SeedOptions are the seed command's settings.
type SeedOptions struct {
	Accounts  int
	Seed      uint64
	Manifest  string
	MigrateTo int64 // 0: every migration
}

// runSeed migrates the database at o.DatabaseURL (up to so.MigrateTo, or
// all the way), seeds it and writes the manifest.
func runSeed(ctx context.Context, o Options, so SeedOptions, out io.Writer, logf func(string, ...any)) error {
	t, err := scale.ParseTarget(o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("seed: -database-url: %w", err)
	}
	db, err := database.Open(database.Config{Driver: t.Driver, DSN: t.DSN}, nil)
	if err != nil {
		return err
	}
	if so.MigrateTo > 0 {
		err = database.MigrateTo(ctx, db, t.Driver, so.MigrateTo)
	} else {
		err = database.Migrate(ctx, db, t.Driver)
	}
	if sdb, derr := db.DB(); derr == nil {
		_ = sdb.Close()
	}
	if err != nil {
		return err
	}
	p := password.DefaultParams()
	p.MemoryKiB, p.Iterations, p.Parallelism = o.Argon2.MemoryKiB, o.Argon2.Iterations, o.Argon2.Parallelism
	m, st, err := scale.Seed(ctx, o.DatabaseURL, scale.Options{
		Users: so.Accounts, Seed: so.Seed, Password: o.Password, Argon2: p, Log: logf,
	})
	if err != nil {
		return err
	}
	if so.Manifest != "" {
		if err := scale.WriteManifest(so.Manifest, m); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "seeded %s: %d accounts in %s (statistics %s)\n", t.Driver, so.Accounts,
		st.Elapsed.Round(time.Second), st.Analyze.Round(time.Second))
	for _, name := range []string{"users", "sessions", "refresh_tokens", "security_events", "totp_factors", "recovery_codes", "passkeys", "mail_outbox"} {
		if n, ok := st.Rows[name]; ok {
			fmt.Fprintf(out, "  %-16s %10d rows\n", name, n)
		}
	}
	fmt.Fprintf(out, "  sessions: %d active, %d ended more than a day ago (purgeable)\n", st.Sessions.Active, st.Sessions.Purgeable)
	return nil
}
