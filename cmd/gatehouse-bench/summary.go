package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
)

// summaryCommand reads JSON reports of several runs (rounds) and prints,
// per scenario and target, the min, median and max of their figures.
const summaryCommand = "summary"

// summaryKey is one scenario on one target.
type summaryKey struct{ scenario, target string }

// runSummary prints the rounds found in the JSON reports at paths.
func runSummary(paths []string, w io.Writer) error {
	if len(paths) == 0 {
		return fmt.Errorf("summary: name the JSON reports (-json) to summarize")
	}
	var order []summaryKey
	rows := map[summaryKey][]ResultJSON{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, r := range rep.Results {
			k := summaryKey{r.Scenario, r.Target}
			if _, ok := rows[k]; !ok {
				order = append(order, k)
			}
			rows[k] = append(rows[k], r)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SCENARIO\tTARGET\tROUNDS\tREQ/S min/med/max\tP50 med\tP99 min/med/max (ms)\tERRORS\tCPU/OP med\tPG CPU/OP med\t")
	for _, k := range order {
		rs := rows[k]
		pick := func(f func(ResultJSON) float64) []float64 {
			out := make([]float64, len(rs))
			for i, r := range rs {
				out[i] = f(r)
			}
			slices.Sort(out)
			return out
		}
		rps := pick(func(r ResultJSON) float64 { return r.RPS })
		p99 := pick(func(r ResultJSON) float64 { return r.P99Ms })
		p50 := pick(func(r ResultJSON) float64 { return r.P50Ms })
		cpu := pick(func(r ResultJSON) float64 { return r.CPUMsPerOp })
		pg := pick(func(r ResultJSON) float64 { return r.PGCPUMsPerOp })
		var errs uint64
		for _, r := range rs {
			errs += r.Errors
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f / %.0f / %.0f\t%.2f\t%.1f / %.1f / %.1f\t%d\t%s\t%s\t\n",
			k.scenario, k.target, len(rs), rps[0], median(rps), rps[len(rps)-1], median(p50),
			p99[0], median(p99), p99[len(p99)-1], errs, msCell(median(cpu)), msCell(median(pg)))
	}
	return tw.Flush()
}
