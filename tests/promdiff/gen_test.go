package promdiff

import (
	"math"
	"math/rand/v2"
	"time"
)

// The data set: dataScrapes scrapes every scrapeInterval seconds from
// dataStart. It crosses midnight so that ClickHouse holds two partitions
// (the exporter's tables are PARTITION BY toDate(TimeUnix)) and several
// toStartOfHour() ranges of the sorting key.
var dataStart = time.Date(2026, 11, 19, 22, 30, 0, 0, time.UTC)

const (
	scrapeInterval = 15 // seconds
	dataScrapes    = 3 * 3600 / scrapeInterval
	// The generator's fixed seed: the data set, and so every answer, is the
	// same on every run.
	seedHi, seedLo = 20261119, 4
)

// histBounds are Traefik's default buckets (../shared/reference); the
// +Inf bucket is implicit, as in OTel's ExplicitBounds.
var histBounds = []float64{0.1, 0.3, 1.2, 5}

type kind int

const (
	counter kind = iota
	gauge
	histogram
)

// target is one scrape target, i.e. one OTel resource: service.name is
// the job, service.instance.id the instance.
type target struct {
	job, instance string
	port, scheme  string // the receiver's server.port and url.scheme resource attributes
	// offset is the second after dataStart of its first scrape; targets are
	// scraped out of phase, as in Prometheus.
	offset int
	// down: scrapes [down[0], down[1]) fail. Prometheus then writes up=0
	// and a stale marker for every series of the previous scrape; the
	// process restarts at down[1], so its counters start again.
	down [2]int
}

// point is one sample of one series.
type point struct {
	t     int64   // unix seconds: TimeUnix is DateTime in exporter v0.161.0
	v     float64 // counters and gauges
	stale bool    // OTel "no recorded value" (Flags=1); Prometheus StaleNaN
	// buckets are a histogram's per-bucket (not cumulative) counts,
	// len(histBounds)+1 of them, the last one above the highest bound.
	buckets []uint64
	sum     float64 // a histogram's sum of observations
}

func (p point) count() uint64 {
	var n uint64
	for _, b := range p.buckets {
		n += b
	}
	return n
}

// series is one OTel data point stream: a metric of one resource with one
// attribute set. A histogram series becomes several Prometheus series.
type series struct {
	name   string
	kind   kind
	target *target
	attrs  [][2]string // the point attributes: the Prometheus labels besides job, instance, __name__, le
	points []point
}

type dataset struct {
	series      []*series
	first, last time.Time // the first and the last sample
}

// gap: scrapes [from, to) lack the series. A marked gap is a series that
// vanished from the exposition: Prometheus writes a stale marker at the
// first missing scrape. An unmarked gap is samples lost on the way (a failed
// export): nothing is written, so the old sample stays visible for the
// lookback delta.
type gap struct {
	from, to int
	marked   bool
}

// spec describes how one series evolves.
type spec struct {
	name  string
	kind  kind
	attrs [][2]string
	model model
	gaps  []gap
	// resets are scrapes at which this series alone restarts from zero.
	resets []int
	// special forces gauge values (NaN, ±Inf) at some scrapes.
	special map[int]float64
}

// model produces a series' successive values.
type model interface {
	next(r *rand.Rand) point
	reset()
}

// counterModel grows by about mean per scrape; integer counters (request
// counts) often do not grow at all when mean is small.
type counterModel struct {
	v, mean float64
	integer bool
}

func (c *counterModel) next(r *rand.Rand) point {
	inc := c.mean * (0.5 + r.Float64())
	if c.integer {
		inc = math.Floor(inc + r.Float64())
	}
	c.v += inc
	return point{v: c.v}
}

func (c *counterModel) reset() { c.v = 0 }

// gaugeModel is a random walk inside [lo, hi].
type gaugeModel struct {
	v, lo, hi, step float64
	integer         bool
}

func (g *gaugeModel) next(r *rand.Rand) point {
	d := (r.Float64()*2 - 1) * g.step
	if g.integer {
		d = math.Round(d)
	}
	g.v = math.Max(g.lo, math.Min(g.hi, g.v+d))
	return point{v: g.v}
}

func (g *gaugeModel) reset() {}

// histModel records about mean observations per scrape, exponentially
// distributed around scale seconds.
type histModel struct {
	counts      []uint64
	sum         float64
	mean, scale float64
}

func (h *histModel) next(r *rand.Rand) point {
	if h.counts == nil {
		h.counts = make([]uint64, len(histBounds)+1)
	}
	n := int(h.mean * 2 * r.Float64())
	for range n {
		d := r.ExpFloat64() * h.scale
		i := 0
		for i < len(histBounds) && d > histBounds[i] {
			i++
		}
		h.counts[i]++
		h.sum += d
	}
	return point{buckets: append([]uint64(nil), h.counts...), sum: h.sum}
}

func (h *histModel) reset() { h.counts, h.sum = nil, 0 }

// The mesh services behind the proxies: load scales request rates, latency
// the observed durations (the slicer is slow, so its observations reach the
// 1.2 and 5 buckets).
var meshServices = []struct {
	name          string
	load, latency float64
}{
	{"forma3d-api-8080@http", 1.0, 0.08},
	{"forma3d-web-3000@http", 2.5, 0.03},
	{"forma3d-slicer-7000@http", 0.4, 1.5},
}

var targets = []*target{
	{job: "traefik-mesh", instance: "10.42.0.11:8082", port: "8082", scheme: "http", offset: 0},
	{job: "traefik-mesh", instance: "10.42.0.12:8082", port: "8082", scheme: "http", offset: 7, down: [2]int{400, 424}},
	{job: "forma3d-api", instance: "10.42.1.7:8080", port: "8080", scheme: "http", offset: 3},
	{job: "node-exporter", instance: "10.42.0.5:9100", port: "9100", scheme: "http", offset: 11},
}

// weirdHandler needs escaping in PromQL, in SQL string literals and in
// regexes: quotes, a backslash, a space and a non-ASCII letter.
const weirdHandler = `/api/files/naïve 'q' "d" \x`

// specs lists the series of target i besides up.
func specs(i int) []spec {
	switch targets[i].job {
	case "traefik-mesh":
		return proxySpecs(i)
	case "forma3d-api":
		return []spec{
			cpuSpec(0.31),
			{name: "http_server_requests_total", kind: counter, attrs: [][2]string{{"handler", "/api/orders"}, {"status", "200"}}, model: &counterModel{mean: 13.7, integer: true}},
			{name: "http_server_requests_total", kind: counter, attrs: [][2]string{{"handler", "/api/orders"}, {"status", "500"}}, model: &counterModel{mean: 0.4, integer: true}},
			{name: "http_server_requests_total", kind: counter, attrs: [][2]string{{"handler", "/api/print-jobs"}, {"status", "200"}}, model: &counterModel{mean: 5.3, integer: true}},
			{name: "http_server_requests_total", kind: counter, attrs: [][2]string{{"handler", weirdHandler}, {"status", "200"}}, model: &counterModel{mean: 2.9, integer: true}},
		}
	default: // node-exporter: temperatures, negative, NaN and ±Inf included
		temp := func(chip, sensor string, lo, hi float64) spec {
			attrs := [][2]string{{"chip", chip}}
			if sensor != "" { // the NVMe drive has no sensor label: l="" must match it
				attrs = append(attrs, [2]string{"sensor", sensor})
			}
			return spec{name: "node_hwmon_temp_celsius", kind: gauge, attrs: attrs,
				model: &gaugeModel{v: (lo + hi) / 2, lo: lo, hi: hi, step: 0.9}}
		}
		cpu1 := temp("cpu", "temp1", 40, 70)
		cpu2 := temp("cpu", "temp2", 35, 65)
		cpu2.special = map[int]float64{200: math.Inf(1), 420: math.Inf(-1)}
		nvme := temp("nvme", "", 30, 50)
		nvme.special = map[int]float64{100: math.NaN(), 101: math.NaN(), 102: math.NaN(), 103: math.NaN(), 500: math.NaN()}
		outdoor := temp("ambient", "outdoor", -12, 6)
		outdoor.gaps = []gap{{300, 320, true}}
		return []spec{cpuSpec(0.17), cpu1, cpu2, nvme, outdoor}
	}
}

func cpuSpec(mean float64) spec {
	return spec{name: "process_cpu_seconds_total", kind: counter, model: &counterModel{mean: mean}}
}

// proxySpecs are one Traefik Mesh proxy's series; proxy 0 and 1 differ in
// rates (so that no two series tie in topk) and in their gaps and resets.
func proxySpecs(proxy int) []spec {
	f := 1 + 0.13*float64(proxy)
	var out []spec
	out = append(out, cpuSpec(0.45*f))
	for si, svc := range meshServices {
		g := 1 + 0.07*float64(si)
		reqPairs := []struct {
			code, method string
			share        float64
		}{{"200", "GET", 60}, {"200", "POST", 15}, {"404", "GET", 1.2}, {"500", "POST", 0.3}}
		for _, p := range reqPairs {
			s := spec{name: "traefik_service_requests_total", kind: counter,
				attrs: [][2]string{{"code", p.code}, {"method", p.method}, {"protocol", "http"}, {"service", svc.name}},
				model: &counterModel{mean: svc.load * p.share * f * g, integer: true}}
			switch {
			case proxy == 0 && si == 1 && p.code == "200" && p.method == "GET":
				s.resets = []int{300}
			case proxy == 0 && si == 0 && p.code == "404":
				s.gaps = []gap{{100, 128, false}} // 7 minutes: longer than the lookback delta
			case proxy == 0 && si == 0 && p.code == "200" && p.method == "POST":
				s.gaps = []gap{{600, 608, false}} // 2 minutes: bridged by the lookback delta
			case proxy == 1 && si == 1 && p.code == "500":
				s.gaps = []gap{{250, 290, true}}
			}
			out = append(out, s)
		}
		if proxy == 0 && si == 2 {
			// A 503 series that appears mid-way, vanishes and comes back.
			out = append(out, spec{name: "traefik_service_requests_total", kind: counter,
				attrs: [][2]string{{"code", "503"}, {"method", "GET"}, {"protocol", "http"}, {"service", svc.name}},
				model: &counterModel{mean: 0.8, integer: true},
				gaps:  []gap{{0, 200, true}, {320, 500, true}}})
		}
		for _, p := range []struct {
			code, method string
			mean, slow   float64
		}{{"200", "GET", 8, 1}, {"500", "POST", 0.5, 3}} {
			s := spec{name: "traefik_service_request_duration_seconds", kind: histogram,
				attrs: [][2]string{{"code", p.code}, {"method", p.method}, {"protocol", "http"}, {"service", svc.name}},
				model: &histModel{mean: svc.load * p.mean * f * g, scale: svc.latency * p.slow * f}}
			switch {
			case proxy == 0 && si == 2 && p.code == "500":
				s.gaps = []gap{{350, 380, false}}
			case proxy == 0 && si == 0 && p.code == "200":
				s.resets = []int{450}
			}
			out = append(out, s)
		}
		for _, m := range []string{"GET", "POST"} {
			out = append(out, spec{name: "traefik_service_open_connections", kind: gauge,
				attrs: [][2]string{{"method", m}, {"protocol", "http"}, {"service", svc.name}},
				model: &gaugeModel{v: 10 * svc.load, lo: 0, hi: 40, step: 3, integer: true}})
		}
	}
	if proxy == 0 {
		out = append(out, spec{name: "traefik_service_open_connections", kind: gauge,
			attrs: [][2]string{{"method", "GET"}, {"protocol", "websocket"}, {"service", meshServices[1].name}},
			model: &gaugeModel{v: 5, lo: 0, hi: 12, step: 2, integer: true}})
	}
	return out
}

// generate builds the data set. It is deterministic: a fixed seed, and
// every random draw in a fixed order.
func generate() *dataset {
	r := rand.New(rand.NewPCG(seedHi, seedLo))
	ds := &dataset{}
	for i, tg := range targets {
		ds.series = append(ds.series, scrapeTarget(r, tg, specs(i))...)
	}
	ds.first, ds.last = time.Unix(math.MaxInt32, 0), time.Unix(0, 0)
	for _, s := range ds.series {
		for _, p := range s.points {
			t := time.Unix(p.t, 0).UTC()
			if t.Before(ds.first) {
				ds.first = t
			}
			if t.After(ds.last) {
				ds.last = t
			}
		}
	}
	return ds
}

// scrapeTarget simulates the target's scrapes as Prometheus records them.
func scrapeTarget(r *rand.Rand, tg *target, sp []spec) []*series {
	up := &series{name: "up", kind: gauge, target: tg}
	out := []*series{up}
	for _, s := range sp {
		out = append(out, &series{name: s.name, kind: s.kind, target: tg, attrs: s.attrs})
	}
	present := make([]bool, len(sp)) // whether the previous scrape had the series
	for k := range dataScrapes {
		// Whole seconds with ±2 s jitter; 15 s apart, so always increasing.
		t := dataStart.Unix() + int64(tg.offset+k*scrapeInterval+r.IntN(5)-2)
		failed := k >= tg.down[0] && k < tg.down[1]
		if k == tg.down[1] && k > 0 {
			for _, s := range sp {
				s.model.reset()
			}
		}
		upValue := 1.0
		if failed {
			upValue = 0
		}
		up.points = append(up.points, point{t: t, v: upValue})
		for j, s := range sp {
			// The process behind the series runs on during gaps: values
			// advance at every scrape that reaches it.
			var p point
			if !failed {
				for _, at := range s.resets {
					if at == k {
						s.model.reset()
					}
				}
				p = s.model.next(r)
				if v, ok := s.special[k]; ok {
					p.v = v
				}
			}
			missing, marked := failed, failed
			for _, g := range s.gaps {
				if k >= g.from && k < g.to {
					missing, marked = true, marked || g.marked
				}
			}
			if missing {
				if marked && present[j] {
					out[j+1].points = append(out[j+1].points, stalePoint(t, s.kind))
					present[j] = false
				}
				continue
			}
			p.t = t
			out[j+1].points = append(out[j+1].points, p)
			present[j] = true
		}
	}
	return out
}

// stalePoint is what the Prometheus receiver (v0.161.0) emits for a stale
// marker: the "no recorded value" flag, a zero value, and for histograms
// zero counts (a StaleNaN cast to uint64 would be huge) with the bounds.
func stalePoint(t int64, k kind) point {
	p := point{t: t, stale: true}
	if k == histogram {
		p.buckets = make([]uint64, len(histBounds)+1)
	}
	return p
}
