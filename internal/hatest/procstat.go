package hatest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// ProcStat is one instance's resource use at one moment.
type ProcStat struct {
	RSSKiB     int64
	FDs        int
	Goroutines int
	PoolOpen   int // go_sql_open_connections
	PoolInUse  int // go_sql_in_use_connections
}

// Stat reads RSS and open descriptors from /proc and goroutines and pool
// connections from the instance's metrics listener.
func (i *Instance) Stat(ctx context.Context) (ProcStat, error) {
	var st ProcStat
	pid := i.PID()
	if pid == 0 {
		return st, fmt.Errorf("%s is not running", i.Name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			st.RSSKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return st, err
	}
	st.FDs = len(fds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", i.MetricsPort), nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_goroutines":
			st.Goroutines = int(n)
		case strings.HasPrefix(name, "go_sql_open_connections"):
			st.PoolOpen = int(n)
		case strings.HasPrefix(name, "go_sql_in_use_connections"):
			st.PoolInUse = int(n)
		}
	}
	return st, sc.Err()
}
