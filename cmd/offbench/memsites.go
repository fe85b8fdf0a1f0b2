package main

import (
	"runtime"
	"sort"
	"strings"
)

// memSnapshot is the runtime's allocation profile by stack, read directly
// (runtime.MemProfile), so two snapshots taken at MemProfileRate 1 give
// exactly the allocations between them, by site.
type memSnapshot map[[32]uintptr]runtime.MemProfileRecord

func takeMemSnapshot() memSnapshot {
	// The profile is published at the end of a GC cycle: two cycles make
	// sure everything allocated so far is in it.
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	for {
		n, ok := runtime.MemProfile(make([]runtime.MemProfileRecord, 0), true)
		recs = make([]runtime.MemProfileRecord, n+64)
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	s := memSnapshot{}
	for _, r := range recs {
		s[r.Stack0] = r
	}
	return s
}

// memSite is one function's share of a difference of snapshots.
type memSite struct {
	name     string
	own, cum float64 // bytes
	ownObjs  float64
}

// memSites returns by function (own: the first frame outside the runtime;
// cum: anywhere on the stack) the bytes allocated (inUse false) or live
// (inUse true) in after but not before, and their total.
func memSites(before, after memSnapshot, inUse bool) ([]memSite, float64) {
	sites := map[string]*memSite{}
	get := func(name string) *memSite {
		if s, ok := sites[name]; ok {
			return s
		}
		s := &memSite{name: name}
		sites[name] = s
		return s
	}
	total := 0.0
	for k, a := range after {
		b := before[k]
		var bytes, objs float64
		if inUse {
			bytes, objs = float64(a.InUseBytes()-b.InUseBytes()), float64(a.InUseObjects()-b.InUseObjects())
		} else {
			bytes, objs = float64(a.AllocBytes-b.AllocBytes), float64(a.AllocObjects-b.AllocObjects)
		}
		if bytes <= 0 {
			continue
		}
		var fs []runtime.Frame
		frames := runtime.CallersFrames(a.Stack())
		for {
			f, more := frames.Next()
			fs = append(fs, f)
			if !more {
				break
			}
		}
		if profilerOwn(fs) {
			continue
		}
		total += bytes
		seen := map[string]bool{}
		own := true
		for _, f := range fs {
			if f.Function != "" && !(own && strings.HasPrefix(f.Function, "runtime.")) {
				if own {
					s := get(f.Function)
					s.own += bytes
					s.ownObjs += objs
					own = false
				}
				if !seen[f.Function] {
					seen[f.Function] = true
					get(f.Function).cum += bytes
				}
			}
		}
	}
	out := make([]memSite, 0, len(sites))
	for _, s := range sites {
		if s.own > 0 {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].own > out[j].own })
	return out, total
}

// profilerOwn reports allocations of the profiling itself (snapshots, their
// analysis, writing profiles), which are not the device's.
func profilerOwn(frames []runtime.Frame) bool {
	for _, f := range frames {
		switch f.Function {
		case "main.takeMemSnapshot", "main.memSites", "main.writeProfile":
			return true
		}
	}
	return false
}
