package frames

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/forma3d/meshmetrics/pkg/engine"
)

// FrameTypeHeatmapRows is Grafana's heatmap-rows data-plane type: one time
// field and one numeric field per bucket, named by its upper bound, rows in
// time order. The SDK has no constant for it.
const FrameTypeHeatmapRows data.FrameType = "heatmap-rows"

// Heatmap turns classic histogram bucket series (cumulative, labelled le)
// into heatmap-rows frames, one per label set without le: the count of
// each bucket alone (the cumulative count minus the one below), as
// Grafana's Prometheus datasource does for its heatmap format. Series
// without a numeric le are reported as an error by the caller.
func Heatmap(res *engine.Result, refID string) (data.Frames, error) {
	type bucket struct {
		le    float64
		name  string
		byT   map[int64]float64
		times []time.Time
	}
	groups := map[string][]*bucket{}
	var order []string
	for _, s := range res.Series {
		leName := s.Labels.Get("le")
		le, err := strconv.ParseFloat(leName, 64)
		if err != nil {
			return nil, &HeatmapError{Series: s.Labels.String()}
		}
		var rest engine.Labels
		for _, l := range s.Labels {
			if l.Name != "le" && l.Name != "__name__" {
				rest = append(rest, l)
			}
		}
		key := rest.String()
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		b := &bucket{le: le, name: leName, byT: map[int64]float64{}}
		for _, p := range s.Points {
			b.byT[p.T.UnixMilli()] = p.V
			b.times = append(b.times, p.T)
		}
		groups[key] = append(groups[key], b)
	}
	var out data.Frames
	for _, key := range order {
		buckets := groups[key]
		sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
		var all []time.Time
		for _, b := range buckets {
			all = append(all, b.times...)
		}
		times := unionTimes(all)
		fields := []*data.Field{data.NewField("Time", nil, times)}
		for bi, b := range buckets {
			vals := make([]float64, len(times))
			for ti, t := range times {
				v, ok := b.byT[t.UnixMilli()]
				if !ok {
					v = math.NaN()
				} else if bi > 0 {
					if below, ok := buckets[bi-1].byT[t.UnixMilli()]; ok {
						v -= below
					}
				}
				vals[ti] = v
			}
			fields = append(fields, data.NewField(b.name, nil, vals))
		}
		f := data.NewFrame(key, fields...)
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: FrameTypeHeatmapRows, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	if len(out) == 0 {
		f := data.NewFrame("", data.NewField("Time", nil, []time.Time{}))
		f.RefID = refID
		f.Meta = &data.FrameMeta{Type: FrameTypeHeatmapRows, ExecutedQueryString: res.SQL}
		out = append(out, f)
	}
	return out, nil
}

// HeatmapError names a series that is not a histogram bucket.
type HeatmapError struct{ Series string }

func (e *HeatmapError) Error() string {
	return "heatmap: series " + e.Series + " has no numeric le label; query the _bucket series of a histogram, e.g. sum by (le) (rate(traefik_service_request_duration_seconds_bucket[5m]))"
}

// unionTimes sorts and de-duplicates times.
func unionTimes(ts []time.Time) []time.Time {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	out := ts[:0]
	for i, t := range ts {
		if i == 0 || !t.Equal(out[len(out)-1]) {
			out = append(out, t)
		}
	}
	return out
}
