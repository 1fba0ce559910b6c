package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// postmasterPID finds the PostgreSQL server process behind databaseURL: the
// parent of the backend serving a fresh connection.
func postmasterPID(ctx context.Context, databaseURL string) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, databaseURL)
	if err != nil {
		return 0, fmt.Errorf("connect to find the postmaster: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var backend int
	if err := conn.QueryRow(cctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", backend))
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL's processes are not on this machine (read /proc/%d: %w)", backend, err)
	}
	st, err := parseStat(data)
	if err != nil {
		return 0, err
	}
	return st.ppid, nil
}

// procStat is what the tool reads of /proc/<pid>/stat.
type procStat struct {
	ppid int
	// ticks is user+system CPU time; children is that of its children
	// already waited for (cutime+cstime), in clock ticks.
	ticks, children uint64
}

// parseStat reads ppid (field 4), utime, stime, cutime and cstime (14 to
// 17) after the command name, which may hold spaces and parentheses.
func parseStat(stat []byte) (procStat, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, errors.New("short /proc stat")
	}
	var v [5]uint64
	for k, j := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseUint(string(f[j]), 10, 64)
		if err != nil {
			return procStat{}, errors.New("malformed /proc stat fields")
		}
		v[k] = n
	}
	return procStat{ppid: int(v[0]), ticks: v[1] + v[2], children: v[3] + v[4]}, nil
}

// treeTicks is the CPU time of a server process and every child it has or
// had: its own time, its live children's, and what it collected from
// children that exited (an autovacuum worker, a closed connection's
// backend). On PostgreSQL that is the whole server: backends, WAL writer,
// checkpointer, autovacuum.
func treeTicks(root int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", root))
	if err != nil {
		return 0, err
	}
	st, err := parseStat(data)
	if err != nil {
		return 0, err
	}
	total := st.ticks + st.children
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if cs, err := parseStat(data); err == nil && cs.ppid == root {
			total += cs.ticks + cs.children
		}
	}
	return total, nil
}

// treeSampler reads a process tree's CPU time at a fixed interval.
type treeSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	samples []rssSample // kib unused
	err     error
}

func startTree(root int, interval time.Duration) *treeSampler {
	s := &treeSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			ticks, err := treeTicks(root)
			if err != nil {
				s.err = err
				return
			}
			s.samples = append(s.samples, rssSample{at: time.Now(), ticks: ticks})
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the samples taken.
func (s *treeSampler) Stop() ([]rssSample, error) {
	close(s.stop)
	s.done.Wait()
	return s.samples, s.err
}
