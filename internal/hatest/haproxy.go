package hatest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/proctest"
)

// HAProxy is one haproxy process balancing the instances, with health
// checks on /readyz and a stats listener the harness reads server states
// from.
type HAProxy struct {
	port, statsPort int
	cfgPath         string
	logPath         string
	proc            *proctest.Process
}

// haproxyConfig is the load balancer's configuration.
//
// Health: GET /readyz every 500ms (200ms while changing state), each
// allowed 2s; three failures take an instance out, two successes put it
// back. An instance
// that is draining for SIGTERM answers 503 there.
//
// Retries: a request whose connection was refused, or that got no
// response at all because the instance died with it, is sent again to
// another instance (retry-on, redispatch). That is safe for this API: a
// retried refresh presents the same token within the reuse grace and gets
// the same successor; a retried login makes one more session; a logout is
// idempotent; reads are reads. A response that did arrive, 503 included,
// is never retried: the client sees it.
func haproxyConfig(port, statsPort int, instances []*Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 2000

defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 10s
	retries 3
	option redispatch 1
	retry-on conn-failure empty-response

frontend public
	bind 127.0.0.1:%d
	default_backend gatehouse

backend gatehouse
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	# A check may take 2s before it counts as failed: a loaded instance is
	# slow, not down (a dead one refuses the connection at once).
	timeout check 2s
	default-server inter 500ms fastinter 200ms downinter 500ms fall 3 rise 2
`, port)
	for _, inst := range instances {
		fmt.Fprintf(&b, "\tserver %s 127.0.0.1:%d check\n", inst.Name, inst.Port)
	}
	fmt.Fprintf(&b, `
listen stats
	bind 127.0.0.1:%d
	stats enable
	stats uri /stats
`, statsPort)
	return b.String()
}

func startHAProxy(bin, dir string, instances []*Instance) (*HAProxy, error) {
	port, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	statsPort, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	h := &HAProxy{port: port, statsPort: statsPort,
		cfgPath: filepath.Join(dir, "haproxy.cfg"), logPath: filepath.Join(dir, "haproxy.log")}
	if err := os.WriteFile(h.cfgPath, []byte(haproxyConfig(port, statsPort, instances)), 0o644); err != nil {
		return nil, err
	}
	h.proc, err = proctest.Start(proctest.Spec{
		Name: "haproxy",
		Path: bin,
		// -db: stay in the foreground, so the pid we hold is haproxy's.
		Args:         []string{"-db", "-f", h.cfgPath},
		Dir:          dir,
		LogPath:      h.logPath,
		SysProcAttr:  &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		Ready:        proctest.DialReady(h.Addr()),
		ReadyTimeout: 10 * time.Second,
		// SIGTERM: haproxy's immediate stop.
		StopSignal: syscall.SIGTERM,
		StopGrace:  10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Addr is the public frontend's host:port.
func (h *HAProxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port)) }

// PID is haproxy's process id.
func (h *HAProxy) PID() int { return h.proc.PID() }

// Stop stops haproxy (SIGTERM: immediate stop) and waits for it.
func (h *HAProxy) Stop() error { return h.proc.Stop() }

// States returns each backend server's status as haproxy sees it ("UP",
// "DOWN", "UP 1/2", ...).
func (h *HAProxy) States(ctx context.Context) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://127.0.0.1:%d/stats;csv", h.statsPort), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("empty stats")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		if r[col["pxname"]] == "gatehouse" && r[col["svname"]] != "BACKEND" && r[col["svname"]] != "FRONTEND" {
			out[r[col["svname"]]] = r[col["status"]]
		}
	}
	return out, nil
}

// WaitUp waits until at least n servers are UP.
func (h *HAProxy) WaitUp(ctx context.Context, n int) error {
	for {
		st, err := h.States(ctx)
		up := 0
		for _, s := range st {
			if s == "UP" {
				up++
			}
		}
		if err == nil && up >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy: %d of %d servers up (%v): %w", up, n, st, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
