// Command gatehouse is the Gatehouse authentication service.
//
//	gatehouse            serve (HTTP on HTTP_ADDR, default :3000)
//	gatehouse migrate    apply database migrations and exit
//	gatehouse version    print the version and exit
//	gatehouse users ...  create accounts, set roles (see cli.go)
//	gatehouse keys ...   list and rotate signing keys
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/gatehouse/gatehouse/infrastructure/config"
	"github.com/gatehouse/gatehouse/infrastructure/database"
	"github.com/gatehouse/gatehouse/infrastructure/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var errShuttingDown = errors.New("shutting down")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "", "serve":
		// Checked before fx so that a bad setting is reported as the one
		// line that names the variable, not inside fx's wrapping.
		cfg, err := config.Load(os.LookupEnv)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		// fx's default stop budget (15s) would cut SHUTDOWN_TIMEOUT short;
		// the margin covers the jobs and the pool after the server drains.
		app := fx.New(serveOptions(config.Module()), fx.StopTimeout(cfg.HTTP.ShutdownTimeout+5*time.Second))
		if err := app.Err(); err != nil {
			// The cause alone, on one line: which function could not build
			// which argument is fx's business, not the operator's.
			fmt.Fprintln(stderr, "gatehouse:", oneLine(dig.RootCause(err)))
			return 1
		}
		app.Run()
		return 0
	case "migrate":
		if err := migrate(); err != nil {
			fmt.Fprintln(stderr, "gatehouse migrate:", err)
			return 1
		}
		fmt.Fprintln(stdout, "migrations applied")
		return 0
	case "healthcheck":
		// For container health checks in images without curl: exit 0 when
		// the local instance answers /readyz with 200.
		if err := healthcheck(); err != nil {
			fmt.Fprintln(stderr, "gatehouse healthcheck:", err)
			return 1
		}
		return 0
	case "users", "keys":
		return operatorCommand(args, stdout, stderr)
	case "clients":
		return clientsCommand(args, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "gatehouse", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, "usage: gatehouse [serve|migrate|healthcheck|version|users|keys]")
		fmt.Fprintln(stdout, cliUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\nusage: gatehouse [serve|migrate|healthcheck|version]\n", cmd)
		return 2
	}
}

// migrate applies the migrations without starting the server.
func migrate() error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log, err := logging.New(logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format}, os.Stderr)
	if err != nil {
		return err
	}
	db, err := database.Open(databaseConfig(cfg), log)
	if err != nil {
		return err
	}
	defer func() { _ = database.Close(db) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return database.Migrate(ctx, db, cfg.Database.Driver)
}

func databaseConfig(cfg config.Config) database.Config {
	return database.Config{
		Driver: cfg.Database.Driver, DSN: cfg.Database.DSN,
		MaxOpenConns: cfg.Database.MaxOpenConns, MaxIdleConns: cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
	}
}

// healthcheck asks the local instance (on HTTP_ADDR's port) for /readyz.
func healthcheck() error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + port + "/readyz")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz answered %d", resp.StatusCode)
	}
	return nil
}
