package main

import (
	"fmt"
	"strings"
)

// The goals of issue 4, each a bound on a ratio (or a count of round
// trips) that a section reports with rep.goal.
const (
	goalCPU        = "Device TLS-only CPU per full handshake ≤ 10 % of crypto/tls's"
	goalAllocs     = "Device bytes allocated per full handshake ≤ 20 % of crypto/tls's"
	goalRetained   = "Retained heap per idle connection ≤ 50 % of crypto/tls's"
	goalThroughput = "Record throughput per device core ≥ crypto/tls's"
	goalOffloader  = "Offloader handshakes/s per core ≥ 80 % of its primitive floor"
	goalRTFull     = "Added latency of a full handshake: 1 offloader round trip"
	goalRTResume   = "Added latency of a resumption: 0 offloader round trips"
)

// goalOrder lists the goals as the issue does, with each one's test on a
// median.
var goalOrder = []struct {
	name    string
	met     func(median float64) bool
	percent bool
}{
	{goalCPU, func(m float64) bool { return m <= 0.10 }, true},
	{goalAllocs, func(m float64) bool { return m <= 0.20 }, true},
	{goalRetained, func(m float64) bool { return m <= 0.50 }, true},
	{goalThroughput, func(m float64) bool { return m >= 1 }, true},
	{goalOffloader, func(m float64) bool { return m >= 0.80 }, true},
	{goalRTFull, func(m float64) bool { return m < 1.5 }, false},
	{goalRTResume, func(m float64) bool { return m < 0.5 }, false},
}

// goalResult is one measured case of a goal.
type goalResult struct {
	goal, label string
	s           samples
}

// goal records a measured ratio for the goals summary.
func (r *report) goal(goal, label string, s samples) {
	r.results = append(r.results, goalResult{goal, label, s})
}

// goals prints the summary: each goal, its cases' medians, met or not. It
// reports; it asserts nothing.
func (r *report) goals() {
	if len(r.results) == 0 {
		return
	}
	t := &table{
		title:  "Goals of issue 4 against this run (medians)",
		header: []string{"goal", "measured", "met"},
	}
	for _, g := range goalOrder {
		var parts []string
		all, any, spread := true, false, true
		for _, res := range r.results {
			if res.goal != g.name {
				continue
			}
			any = true
			m := res.s.median()
			v := fmt.Sprintf("%.2f×", m)
			if g.percent {
				v = fmt.Sprintf("%.0f %%", 100*m)
			}
			parts = append(parts, res.label+": "+v)
			all = all && g.met(m)
			spread = spread && (g.met(res.s.min()) || g.met(res.s.max()))
		}
		if !any {
			continue
		}
		met := "no"
		switch {
		case all:
			met = "yes"
		case spread:
			met = "no, but within the runs' min–max spread"
		}
		t.rows = append(t.rows, []string{g.name, strings.Join(parts, "; "), met})
	}
	r.section("Goals")
	r.table(t)
}
