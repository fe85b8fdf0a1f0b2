package dashboard

import (
	"math"
	"time"
)

// quantile estimates the q-quantile (0 < q < 1), in seconds, of durations
// counted in buckets: counts[i] holds those d with bounds[i-1] < d ≤
// bounds[i] (the first bucket from 0), counts[len(bounds)] those above
// the last bound. As Prometheus's histogram_quantile does, it finds the
// bucket holding the rank q·total and interpolates linearly inside it; a
// rank in the overflow bucket gives the last bound (the most a fixed
// bucket layout can say). NaN when nothing was counted.
func quantile(q float64, bounds []time.Duration, counts []uint64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 || len(bounds) == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var cum uint64
	for i, c := range counts {
		below := cum
		cum += c
		if c == 0 || float64(cum) < rank {
			continue
		}
		if i == len(bounds) {
			break
		}
		lower := 0.0
		if i > 0 {
			lower = bounds[i-1].Seconds()
		}
		upper := bounds[i].Seconds()
		return lower + (upper-lower)*(rank-float64(below))/float64(c)
	}
	return bounds[len(bounds)-1].Seconds()
}
