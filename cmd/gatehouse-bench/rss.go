package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// readRSS returns the resident set size of pid in KiB, from VmRSS in
// /proc/<pid>/status.
func readRSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(data)
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc status file.
func parseVmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		return strconv.ParseUint(string(f[0]), 10, 64)
	}
	return 0, errors.New("no VmRSS line (kernel thread or zombie?)")
}

// rssSample is one reading of a process: resident memory and CPU time.
type rssSample struct {
	at    time.Time
	kib   uint64
	ticks uint64 // user+system CPU time in clock ticks
}

// clockTick is the unit of CPU times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// readCPUTicks returns the user+system CPU time of pid in clock ticks.
func readCPUTicks(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatTicks(data)
}

// parseStatTicks reads utime+stime (fields 14 and 15) from a /proc stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted after its last ')'.
func parseStatTicks(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return ut + st, nil
}

// cpuUse is the CPU time a process spent over part of a window, with the
// successful operations estimated to have completed in that part.
type cpuUse struct {
	cpu  time.Duration
	ops  float64
	span time.Duration // between the first and last sample
}

// cpuOver estimates the CPU time per operation from the samples inside a
// window of ok successes: the CPU time between the first and last sample,
// and ok scaled to the time between them.
func cpuOver(samples []rssSample, ok uint64, window time.Duration) cpuUse {
	if len(samples) < 2 || window <= 0 {
		return cpuUse{}
	}
	first, last := samples[0], samples[len(samples)-1]
	span := last.at.Sub(first.at)
	return cpuUse{
		cpu:  time.Duration(last.ticks-first.ticks) * clockTick,
		ops:  float64(ok) * span.Seconds() / window.Seconds(),
		span: span,
	}
}

// rssSampler reads a process's RSS and CPU time at a fixed interval until
// stopped.
type rssSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	samples []rssSample
	err     error
}

// startRSS samples pid every interval (and once at once); a failed read
// ends sampling and is reported by Stop.
func startRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			kib, err := readRSS(pid)
			if err != nil {
				s.err = err
				return
			}
			ticks, err := readCPUTicks(pid)
			if err != nil {
				s.err = err
				return
			}
			s.samples = append(s.samples, rssSample{at: time.Now(), kib: kib, ticks: ticks})
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the samples, and the read error if
// sampling ended early.
func (s *rssSampler) Stop() ([]rssSample, error) {
	close(s.stop)
	s.done.Wait()
	return s.samples, s.err
}

// RSSStats summarizes the service's memory during one measured window.
type RSSStats struct {
	// Samples is the number of readings in the window.
	Samples int `json:"samples"`
	// MaxMiB is the largest reading.
	MaxMiB float64 `json:"maxMiB"`
	// SteadyMiB is the median of the second half of the readings: the
	// level the process settled at under load.
	SteadyMiB float64 `json:"steadyMiB"`
}

// summarizeRSS keeps the samples taken in [from, to] and summarizes them;
// nil when none fall in the window.
func summarizeRSS(samples []rssSample, from, to time.Time) *RSSStats {
	var mib []float64
	for _, s := range samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		mib = append(mib, float64(s.kib)/1024)
	}
	if len(mib) == 0 {
		return nil
	}
	st := &RSSStats{Samples: len(mib), MaxMiB: round2(slices.Max(mib))}
	second := slices.Clone(mib[len(mib)/2:])
	slices.Sort(second)
	st.SteadyMiB = round2(median(second))
	return st
}
