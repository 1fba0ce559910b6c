package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// floorServerCommand is the hidden subcommand that serves the floor-me
// handler in a process of its own.
const floorServerCommand = "floor-me-server"

// listenPrefix starts the line a floor server prints once it listens.
const listenPrefix = "floor-me-server listening on "

// runFloorMeServer is the floor-me process: fetch the service's JWKS, open
// a pgx pool on the same database, serve the floor handler on 127.0.0.1 at
// a free port, print its URL on out, and serve until ctx ends (SIGTERM).
// With cpuProfile set it writes a CPU profile of its whole life there.
func runFloorMeServer(ctx context.Context, o Options, cpuProfile string, out io.Writer) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	api := &apiClient{base: o.URL, hc: newHTTPClient(1, 10*time.Second)}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := api.jwks(jctx)
	if err != nil {
		return fmt.Errorf("fetch JWKS from %s: %w", o.URL, err)
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, o.DatabaseURL, o.FloorPool)
	if err != nil {
		return err
	}
	defer pool.Close()
	srv, err := startFloorServer(&floorMeHandler{
		verifier: &jwtVerifier{keys: keys, issuer: o.Issuer, audience: o.Audience, now: time.Now},
		users:    pgUsers{pool: pool},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintln(out, listenPrefix+srv.URL)
	<-ctx.Done()
	return nil
}

// floorProcess is a floor-me server running as a child process, so that
// the floor, like the service, has a process (and a Go runtime) of its own
// beside the load generator's: on a machine shared with other work the two
// sides then get the same share of the CPUs.
type floorProcess struct {
	URL    string
	cmd    *exec.Cmd
	exited chan error
}

// startFloorProcess re-executes this binary as floor-me-server and waits
// (up to 20 s) for it to listen. The database URL travels in the
// environment, never on the command line.
func startFloorProcess(ctx context.Context, o Options, cpuProfile string, stderr io.Writer) (*floorProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{floorServerCommand,
		"-url", o.URL, "-jwt-issuer", o.Issuer, "-jwt-audience", o.Audience,
		"-floor-pool", strconv.Itoa(o.FloorPool)}
	if cpuProfile != "" {
		args = append(args, "-floor-cpuprofile", cpuProfile)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(withoutEnv(os.Environ(), "DATABASE_URL"), "DATABASE_URL="+o.DatabaseURL)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &floorProcess{cmd: cmd, exited: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), listenPrefix); ok {
				lines <- u
			}
		}
		close(lines)
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case u, ok := <-lines:
		if ok {
			p.URL = u
			return p, nil
		}
		err = errors.New("floor-me-server exited before listening (see its error above)")
	case <-time.After(20 * time.Second):
		err = errors.New("floor-me-server did not listen within 20s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Close()
	return nil, err
}

// Close stops the floor process: SIGTERM, then SIGKILL after 10 s.
func (p *floorProcess) Close() {
	stopProcess(p.cmd, p.exited)
}
