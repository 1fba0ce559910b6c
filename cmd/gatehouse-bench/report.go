package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one invocation measured; it is what -json writes.
type Report struct {
	Command     string           `json:"command"`
	URL         string           `json:"url,omitempty"`
	StartedAt   time.Time        `json:"startedAt"`
	Settings    Settings         `json:"settings"`
	Results     []ResultJSON     `json:"results"`
	Comparisons []Comparison     `json:"comparisons,omitempty"`
	Memory      *MemoryReport    `json:"memory,omitempty"`
	ColdStart   *ColdStartReport `json:"coldStart,omitempty"`
	Purge       *PurgeReport     `json:"purge,omitempty"`
	Costs       []CostFigure     `json:"costs,omitempty"`
}

// Settings echoes the load parameters, so a JSON file stands on its own.
type Settings struct {
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Concurrency int    `json:"concurrency"`
	Users       int    `json:"users"`
	Rounds      int    `json:"rounds,omitempty"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
}

// ResultJSON is one run of one scenario against one target.
type ResultJSON struct {
	Scenario   string            `json:"scenario"`
	Target     string            `json:"target"`
	Round      int               `json:"round,omitempty"`
	Workers    int               `json:"workers"`
	Requests   uint64            `json:"requests"`
	Errors     uint64            `json:"errors"`
	ErrorKinds map[string]uint64 `json:"errorKinds"`
	RPS        float64           `json:"rps"`
	P50Ms      float64           `json:"p50Ms"`
	P99Ms      float64           `json:"p99Ms"`
	MeanMs     float64           `json:"meanMs"`
	MaxMs      float64           `json:"maxMs"`
	WindowS    float64           `json:"windowSeconds"`
	RSS        *RSSStats         `json:"rss,omitempty"`
	// CPUMsPerOp is the CPU time of CPUOf per successful call, from
	// /proc/<pid>/stat (10 ms ticks): the service with -pid, the floor-me
	// process, or the bench process for the in-process floors (whose
	// PostgreSQL work is not included, nor is the service's).
	CPUMsPerOp float64 `json:"cpuMsPerOp,omitempty"`
	CPUOf      string  `json:"cpuOf,omitempty"`
	// PGCPUMsPerOp is the whole PostgreSQL server's CPU time per
	// successful call (with -database-url): the postmaster and all its
	// children, sampled from /proc.
	PGCPUMsPerOp float64 `json:"pgCpuMsPerOp,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// toJSON flattens a Result; round 0 means "not part of a comparison".
func (r *Result) toJSON(round int) ResultJSON {
	kinds := r.ErrorKinds
	if kinds == nil {
		kinds = map[string]uint64{}
	}
	return ResultJSON{
		Scenario: r.Scenario, Target: r.Target, Round: round, Workers: r.Workers,
		Requests: r.Requests, Errors: r.Errors, ErrorKinds: kinds,
		RPS:   round2(r.RPS()),
		P50Ms: round3(ms(r.Latency.Quantile(0.50))), P99Ms: round3(ms(r.Latency.Quantile(0.99))),
		MeanMs: round3(ms(r.Latency.Mean())), MaxMs: round3(ms(r.Latency.Max())),
		WindowS: round3(r.Window.Seconds()), RSS: r.RSS, Note: r.Note,
		CPUMsPerOp: round3(ms(r.CPUPerOp())), CPUOf: r.CPUOf, PGCPUMsPerOp: round3(ms(r.PGCPUPerOp())),
	}
}

// Comparison is one target: the service's throughput over its floor's,
// once per round.
type Comparison struct {
	// Target is the service scenario: me, refresh or login.
	Target string `json:"target"`
	// Floor names what it is compared with.
	Floor string `json:"floor"`
	// Threshold is the lowest acceptable ratio.
	Threshold float64 `json:"threshold"`
	// Ratios are service req/s over floor ops/s, one per round in order.
	Ratios []float64 `json:"ratios"`
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	// Verdict is PASS when the median ratio reaches Threshold, else MISS.
	Verdict string `json:"verdict"`
}

// summarize fills Min, Median, Max and Verdict from Ratios.
func (c *Comparison) summarize() {
	if len(c.Ratios) == 0 {
		c.Verdict = "NONE"
		return
	}
	s := slices.Sorted(slices.Values(c.Ratios))
	c.Min, c.Median, c.Max = s[0], round3(median(s)), s[len(s)-1]
	c.Verdict = verdict(c.Median >= c.Threshold)
}

// MemoryReport is the service's resident memory under load.
type MemoryReport struct {
	PID int `json:"pid"`
	// MaxMiB is the largest reading during any measured window.
	MaxMiB float64 `json:"maxMiB"`
	// SteadyMiB is the worst (largest) steady level of any service run.
	SteadyMiB float64 `json:"steadyMiB"`
	// SteadyBy names the scenario with that level.
	SteadyBy string `json:"steadyBy"`
	// SteadyByScenario is each scenario's worst steady level.
	SteadyByScenario map[string]float64 `json:"steadyByScenarioMiB,omitempty"`
	LimitMiB         float64            `json:"limitMiB"`
	Verdict          string             `json:"verdict"`
	Error            string             `json:"error,omitempty"`
}

// memoryLimitMiB is the target for steady RSS under load.
const memoryLimitMiB = 64

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// writeJSON writes the report, indented.
func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// fmtMs prints a latency in milliseconds with useful precision.
func fmtMs(d time.Duration) string {
	v := ms(d)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

// printResults writes the results table: one row per run, error kinds
// and notes indented below their row.
func printResults(w io.Writer, rows []ResultJSON) error {
	withRound := slices.ContainsFunc(rows, func(r ResultJSON) bool { return r.Round > 0 })
	withRSS := slices.ContainsFunc(rows, func(r ResultJSON) bool { return r.RSS != nil })
	withCPU := slices.ContainsFunc(rows, func(r ResultJSON) bool { return r.CPUMsPerOp > 0 })
	withPG := slices.ContainsFunc(rows, func(r ResultJSON) bool { return r.PGCPUMsPerOp > 0 })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"SCENARIO", "TARGET"}
	if withRound {
		head = append(head, "ROUND")
	}
	head = append(head, "WORKERS", "REQUESTS", "REQ/S", "P50", "P99", "ERRORS")
	if withCPU {
		head = append(head, "CPU/OP")
	}
	if withPG {
		head = append(head, "PG CPU/OP")
	}
	if withRSS {
		head = append(head, "RSS MAX", "RSS STEADY")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		cells := []string{r.Scenario, r.Target}
		if withRound {
			cells = append(cells, fmt.Sprint(r.Round))
		}
		cells = append(cells, fmt.Sprint(r.Workers), fmt.Sprint(r.Requests), fmt.Sprintf("%.1f", r.RPS),
			fmtMs(time.Duration(r.P50Ms*float64(time.Millisecond))),
			fmtMs(time.Duration(r.P99Ms*float64(time.Millisecond))),
			fmt.Sprint(r.Errors))
		if withCPU {
			if r.CPUMsPerOp > 0 {
				cells = append(cells, fmtMs(time.Duration(r.CPUMsPerOp*float64(time.Millisecond))))
			} else {
				cells = append(cells, "-")
			}
		}
		if withPG {
			cells = append(cells, msCell(r.PGCPUMsPerOp))
		}
		if withRSS {
			if r.RSS != nil {
				cells = append(cells, fmt.Sprintf("%.1fMiB", r.RSS.MaxMiB), fmt.Sprintf("%.1fMiB", r.RSS.SteadyMiB))
			} else {
				cells = append(cells, "-", "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if withCPU {
		fmt.Fprintln(w, "  CPU/OP: CPU time per successful call of the service (-pid), the floor-me process, or this process (floor-refresh, floor-argon2); PostgreSQL's own CPU is in none of them")
	}
	if withPG {
		fmt.Fprintln(w, "  PG CPU/OP: CPU time per successful call of the whole PostgreSQL server (postmaster and children, from /proc)")
	}
	for _, r := range rows {
		prefix := fmt.Sprintf("  %s/%s", r.Scenario, r.Target)
		if r.Round > 0 {
			prefix += fmt.Sprintf(" round %d", r.Round)
		}
		for _, k := range slices.Sorted(maps.Keys(r.ErrorKinds)) {
			fmt.Fprintf(w, "%s: %d x %s\n", prefix, r.ErrorKinds[k], k)
		}
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", prefix, r.Note)
		}
	}
	return nil
}

// msCell prints a CPU time in milliseconds, "-" when unknown.
func msCell(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmtMs(time.Duration(v * float64(time.Millisecond)))
}

// printComparisons writes the ratio table.
func printComparisons(w io.Writer, cs []Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TARGET\tFLOOR\tMIN\tMEDIAN\tMAX\tNEED\tVERDICT\tRATIOS BY ROUND\t")
	for _, c := range cs {
		rs := make([]string, len(c.Ratios))
		for i, r := range c.Ratios {
			rs[i] = fmt.Sprintf("%.3f", r)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t>=%.2f\t%s\t%s\t\n",
			c.Target, c.Floor, c.Min, c.Median, c.Max, c.Threshold, c.Verdict, strings.Join(rs, " "))
	}
	return tw.Flush()
}

// printReport writes the whole report as text.
func printReport(w io.Writer, rep *Report) error {
	if len(rep.Results) > 0 {
		if err := printResults(w, rep.Results); err != nil {
			return err
		}
	}
	if len(rep.Comparisons) > 0 {
		fmt.Fprintln(w)
		if err := printComparisons(w, rep.Comparisons); err != nil {
			return err
		}
	}
	if m := rep.Memory; m != nil {
		fmt.Fprintln(w)
		if m.Error != "" {
			fmt.Fprintf(w, "memory (pid %d): %s\n", m.PID, m.Error)
		} else {
			fmt.Fprintf(w, "memory (pid %d): max %.1f MiB, steady %.1f MiB (worst: %s), need <= %.0f MiB: %s\n",
				m.PID, m.MaxMiB, m.SteadyMiB, m.SteadyBy, m.LimitMiB, m.Verdict)
			var by []string
			for _, sc := range slices.Sorted(maps.Keys(m.SteadyByScenario)) {
				by = append(by, fmt.Sprintf("%s %.1f MiB", sc, m.SteadyByScenario[sc]))
			}
			if len(by) > 1 {
				fmt.Fprintf(w, "  steady by scenario: %s\n", strings.Join(by, ", "))
			}
		}
	}
	if len(rep.Costs) > 0 {
		fmt.Fprintln(w)
		if err := printCosts(w, rep.Costs); err != nil {
			return err
		}
	}
	if rep.Purge != nil {
		fmt.Fprintln(w)
		printPurge(w, rep.Purge)
	}
	if c := rep.ColdStart; c != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "cold start to ready (SQLite, %d runs): min %.1f ms, median %.1f ms, max %.1f ms, need <= %.0f ms: %s\n",
			len(c.Runs), c.MinMs, c.MedianMs, c.MaxMs, c.LimitMs, c.Verdict)
		if len(c.FloorRuns) > 0 && c.FloorMedian > 0 {
			fmt.Fprintf(w, "  floor (bare Go HTTP server, same exec and poll): median %.1f ms; service/floor %.1fx\n",
				c.FloorMedian, c.MedianMs/c.FloorMedian)
		}
	}
	return nil
}
