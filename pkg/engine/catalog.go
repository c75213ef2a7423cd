package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// maxCatalogNames bounds the metric names one lookup reads: a regex on
// __name__ is matched against at most this many stored names.
const maxCatalogNames = 10000

// catalog resolves metric names against what the tables hold in a time
// range, so that a query reads only tables and names that exist.
type catalog struct {
	conn   driver.Conn
	schema sqlgen.Schema
	// fromMs and toMs bound the stored points looked at (Unix ms).
	fromMs, toMs int64

	// probed are the (table, metric) pairs already asked about, and known
	// those of them that are stored: one query's selectors share answers.
	probed map[plan.Source]bool
	known  storedNames
	// answers keeps probes' answers across queries; nil: none kept.
	answers *probeAnswers
	// held keeps listings of the names held on days (held.go); nil: none
	// kept, and none read.
	held *kept[daySpan, heldNames]
}

// Prefetch asks about the exact metric names of all of a query's
// selectors in one round trip, before planning resolves them one by one.
func (c *catalog) Prefetch(ctx context.Context, names []string) error {
	var candidates []plan.Source
	for _, name := range names {
		candidates = append(candidates, plan.Candidates(name)...)
	}
	_, err := c.probe(ctx, candidates)
	return err
}

// probe returns what the tables hold of the candidates, asking the server
// only about pairs not asked about before.
func (c *catalog) probe(ctx context.Context, candidates []plan.Source) (storedNames, error) {
	if c.probed == nil {
		c.probed = map[plan.Source]bool{}
	}
	nowMs := c.answers.clock().UnixMilli()
	// ask: keys for the full probe; screen: keys of names whose absence
	// from the present has expired, or that nothing is known of yet.
	var ask, screen []plan.Source
	// ofFound: the keys of names one of whose forms is known stored.
	ofFound := map[plan.Source]bool{}
	for _, forms := range byName(candidates) {
		// need: the name's forms to probe; absent: those kept as not
		// stored; renew: one of them answered so for the present longer
		// than probeAbsentKeep ago.
		var need, absent []plan.Source
		found, renew, heard := false, false, false
		for _, cand := range forms {
			key := plan.Source{Table: cand.Table, Metric: cand.Metric}
			if c.probed[key] {
				f, _, _ := c.known.find(key.Table, key.Metric)
				found, heard = found || f, true
				continue
			}
			c.probed[key] = true
			a, ok := c.answers.get(key)
			heard = heard || ok
			switch {
			case !ok || !a.serves(c.fromMs, c.toMs):
				need = append(need, key)
			case a.found:
				c.known = c.known.add(storedName{table: key.Table, metric: key.Metric, delta: a.delta, points: a.points})
				found = true
			default:
				absent = append(absent, key)
				renew = renew || a.expiredAbsence(nowMs)
			}
		}
		if found {
			for _, key := range need {
				ofFound[key] = true
			}
		}
		switch {
		case !heard:
			// Nothing known of the name: screened first, as a name stored
			// nowhere (a panel for metrics not deployed) would otherwise
			// pay the full probe of every form, 16–28 ms, where the
			// screen takes 7–10; a name stored pays the screen on top.
			screen = append(screen, need...)
		case found || !renew:
			ask = append(ask, need...)
		case len(need) > 0:
			// Probed anyway: the absent forms ride along.
			ask = append(ask, append(need, absent...)...)
		default:
			screen = append(screen, absent...)
		}
	}
	screen, ask, err := c.dropUnheld(ctx, screen, ask, ofFound)
	if err != nil {
		return nil, err
	}
	if len(screen) > 0 {
		// Names stored nowhere a moment ago are most likely still so:
		// one cheap read per table says so, and only a table holding
		// one of them now gets the full probe.
		asOfMs := c.answers.clock().UnixMilli()
		along := c.absentAlong(nowMs, candidates)
		held, err := c.readNames(ctx, strings.Join(append(c.renewalParts(screen, func(int) int64 { return c.fromMs }), c.alongParts(along)...), "\nUNION ALL\n"))
		if err != nil {
			return nil, err
		}
		for _, key := range screen {
			// Only a row of the query's own names: the other names' rows
			// come from their own reads.
			if slices.ContainsFunc(held, func(n storedName) bool {
				return n.table == key.Table && listed(screen, n.table, n.metric)
			}) {
				ask = append(ask, key)
				continue
			}
			c.answers.putNow(key, probeAnswer{fromMs: c.fromMs, toMs: c.toMs, asOfMs: asOfMs, screened: true}, 1)
		}
		c.renewAlong(along, held, screen, asOfMs)
	}
	if len(ask) > 0 {
		asOfMs := c.answers.clock().UnixMilli()
		stored, err := c.storedNames(ctx, ask)
		if err != nil {
			return nil, err
		}
		for _, n := range stored {
			c.known = c.known.add(n)
		}
		for _, key := range ask {
			a := probeAnswer{fromMs: c.fromMs, toMs: c.toMs, asOfMs: asOfMs}
			a.found, a.delta, a.points = stored.find(key.Table, key.Metric)
			c.answers.putNow(key, a, 1)
		}
	}
	return c.known, nil
}

// The catalog's probes (is this metric stored in this table in this
// range, with delta temporality, and at what times?) are kept
// for probeAnswerTTL per table and metric: a dashboard's queries ask the
// same of the same names, each probe costing a round trip of 10–20 ms,
// and its auto-refresh asks again a minute later over a range a minute
// further on. An answer serves another range when what it says holds
// there too (serves). The bound on late rows: a metric's first rows, or
// its first delta rows, show at most probeAnswerTTL after an answer
// without them; until then its selectors read nothing from that table,
// as if the rows had come later. A metric whose first rows are in the
// present is not late but new (a service deployed, a pipeline started):
// when none of a name's forms (plan.Candidates) was found, answers for a
// range reaching the present hold for probeAbsentKeep only, one
// dashboard load. Where one form was found, the other forms' absence
// holds for probeAnswerTTL: a metric moving to another table counts as
// late rows.
type probeAnswers = kept[plan.Source, probeAnswer]

// probeAnswer is what a probe found of one table and metric.
type probeAnswer struct {
	// fromMs and toMs are the range probed, (fromMs, toMs]; asOfMs is the
	// engine's clock when the probe ran.
	fromMs, toMs, asOfMs int64
	found, delta         bool
	points               []int64 // found: times of points in the range (Unix ms)
	// screened: kept by a screen, so none of the name's forms was found
	// (absentAlong renews only those).
	screened bool
}

// serves says whether the answer holds for the range (fromMs, toMs]: it
// looked at every row there, or every row but those newer than the
// probe's range that reached the probe's present (late rows, which the
// bound above covers); and a metric found has a point found inside.
// A range reaching further back, or ending before that point, is probed:
// a metric renamed from an alias to its exact name over time must
// resolve to the name stored in each range.
func (a probeAnswer) serves(fromMs, toMs int64) bool {
	if fromMs < a.fromMs {
		return false
	}
	if toMs > a.toMs && !a.present() {
		return false
	}
	if !a.found {
		return true
	}
	for _, t := range a.points {
		if t > fromMs && t <= toMs {
			return true
		}
	}
	return false
}

// present says whether the probed range ended within probePresent of the
// engine's clock when the probe ran.
func (a probeAnswer) present() bool {
	return a.toMs >= a.asOfMs-probePresent.Milliseconds()
}

// expiredAbsence says whether the answer is "not stored" for a range
// reaching the present, found longer than probeAbsentKeep before nowMs.
func (a probeAnswer) expiredAbsence(nowMs int64) bool {
	return !a.found && a.present() && nowMs-a.asOfMs > probeAbsentKeep.Milliseconds()
}

// byName groups candidates by the PromQL name they are forms of, in
// first-seen order.
func byName(candidates []plan.Source) [][]plan.Source {
	var out [][]plan.Source
	at := map[string]int{}
	for _, cand := range candidates {
		i, ok := at[cand.Name]
		if !ok {
			i = len(out)
			at[cand.Name] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], cand)
	}
	return out
}

const (
	probeAnswerTTL = 5 * time.Minute
	// probePresent is how close to the engine's clock a probed range must
	// end for its answer to hold for ranges ending later: a range ends at
	// the dashboard's "now", read by Grafana before the query reaches the
	// plugin.
	probePresent = time.Minute
	// probeAbsentKeep is how long answers that none of a name's forms is
	// stored, for a range reaching the present, hold.
	probeAbsentKeep = 10 * time.Second
	// maxProbeAnswers bounds the answers kept.
	maxProbeAnswers = 10_000
)

// Resolve lists the sources of every stored metric whose PromQL name the
// matcher accepts.
func (c *catalog) Resolve(ctx context.Context, m *labels.Matcher) ([]plan.Source, error) {
	var candidates []plan.Source
	var stored storedNames
	var err error
	if m.Type == labels.MatchEqual {
		candidates = plan.Candidates(m.Value)
		stored, err = c.probe(ctx, candidates)
	} else {
		stored, err = c.storedNames(ctx, nil)
	}
	if err != nil {
		return nil, err
	}
	if m.Type != labels.MatchEqual {
		for _, s := range stored {
			candidates = append(candidates, namesOf(s)...)
		}
	}
	var out []plan.Source
	seen := map[plan.Source]bool{}
	for _, cand := range candidates {
		if seen[cand] || !m.Matches(cand.Name) {
			continue
		}
		found, delta, _ := stored.find(cand.Table, cand.Metric)
		if !found {
			continue
		}
		if delta {
			return nil, fmt.Errorf("metric %s is stored with delta temporality (AggregationTemporality = 1); only cumulative sums and histograms, as the Prometheus receiver writes them, are supported", cand.Metric)
		}
		seen[cand] = true
		out = append(out, cand)
	}
	// A Prometheus name found as is wins over its OTel-normalised aliases
	// (name without _total), which another metric may legitimately use.
	return preferExact(out), nil
}

// namesOf is every PromQL name a stored metric is queried by.
func namesOf(s storedName) []plan.Source {
	if s.table != plan.TableHistogram {
		return []plan.Source{{Name: s.metric, Table: s.table, Metric: s.metric, Part: plan.PartValue}}
	}
	var out []plan.Source
	for suffix, part := range map[string]plan.Part{"_bucket": plan.PartBucket, "_count": plan.PartCount, "_sum": plan.PartSum} {
		out = append(out, plan.Source{Name: s.metric + suffix, Table: s.table, Metric: s.metric, Part: part})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func preferExact(sources []plan.Source) []plan.Source {
	exact := map[string]bool{}
	for _, s := range sources {
		if s.Table != plan.TableHistogram && s.Metric == s.Name {
			exact[s.Name] = true
		}
	}
	var out []plan.Source
	for _, s := range sources {
		if s.Table == plan.TableSum && s.Metric != s.Name && exact[s.Name] {
			continue
		}
		out = append(out, s)
	}
	return out
}

type storedName struct {
	table  plan.TableKind
	metric string
	// delta: points with delta temporality, which the SQL would misread as
	// cumulative.
	delta bool
	// points are the times (Unix ms) of the points the probes found.
	points []int64
}

type storedNames []storedName

func (s storedNames) find(t plan.TableKind, metric string) (found, delta bool, points []int64) {
	for _, n := range s {
		if n.table == t && n.metric == metric {
			return true, n.delta, n.points
		}
	}
	return false, false, nil
}

// storedNames lists the metric names the tables hold in the catalog's time
// range: the candidates' names when there are candidates (an exact
// __name__), else every name (a __name__ regex), at most maxCatalogNames.
func (c *catalog) storedNames(ctx context.Context, candidates []plan.Source) (storedNames, error) {
	query := c.probeQuery(candidates)
	if len(candidates) == 0 {
		query = c.listQuery()
	}
	return c.readNames(ctx, query)
}

// readNames runs a statement of the catalog's rows: kind, name, delta,
// at.
func (c *catalog) readNames(ctx context.Context, query string) (storedNames, error) {
	rows, err := c.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	defer rows.Close()
	var out storedNames
	for rows.Next() {
		var kind, name string
		var delta bool
		var at int64
		if err := rows.Scan(&kind, &name, &delta, &at); err != nil {
			return nil, fmt.Errorf("list metric names: %w", err)
		}
		out = out.add(storedName{table: plan.TableKind(kind), metric: name, delta: delta, points: []int64{at}})
	}
	return out, rows.Err()
}

// add records a name, merging a second row of the same name into the
// first.
func (s storedNames) add(n storedName) storedNames {
	for i := range s {
		if s[i].table == n.table && s[i].metric == n.metric {
			s[i].delta = s[i].delta || n.delta
			s[i].points = append(s[i].points, n.points...)
			return s
		}
	}
	return append(s, n)
}

// pointTime is the probed row's time in Unix ms, whether TimeUnix is a
// DateTime or a DateTime64 (the tests use both).
const pointTime = "toUnixTimestamp64Milli(toDateTime64(TimeUnix, 3)) AS at"

// listQuery lists every stored name with its temporality: it reads the
// MetricName column of every row in the range, so it serves only regex
// matchers on __name__ (its answers are not kept: at is 0).
func (c *catalog) listQuery() string {
	var parts []string
	for _, kind := range []plan.TableKind{plan.TableSum, plan.TableGauge, plan.TableHistogram} {
		delta := "max(AggregationTemporality = 1)"
		if kind == plan.TableGauge {
			delta = "false"
		}
		parts = append(parts, fmt.Sprintf("SELECT %s AS kind, MetricName AS name, toBool(%s) AS delta, toInt64(0) AS at FROM %s WHERE %s GROUP BY MetricName",
			sqlgen.QuoteString(string(kind)), delta, c.schema.Table(c.schema.TableOf(kind)), c.schema.TimeRange(c.fromMs, c.toMs)))
	}
	return strings.Join(parts, "\nUNION ALL\n") + fmt.Sprintf("\nLIMIT %d", maxCatalogNames)
}

// renewalParts ask, per table, whether it holds a point of any of the
// keys' metrics in the range from fromMs(k), key k's, to the catalog's
// end (a table's read starts at the earliest of its keys'): one LIMIT 1
// read per table (7–8 ms at 20 services), where the full probe makes two
// or three per metric (18–25 ms). A row names one metric held, not the
// others: its table's keys get the full probe.
func (c *catalog) renewalParts(keys []plan.Source, fromMs func(k int) int64) []string {
	var kinds []plan.TableKind
	metrics := map[plan.TableKind][]string{}
	from := map[plan.TableKind]int64{}
	for k, key := range keys {
		if _, ok := metrics[key.Table]; !ok {
			kinds = append(kinds, key.Table)
			from[key.Table] = fromMs(k)
		}
		metrics[key.Table] = append(metrics[key.Table], sqlgen.QuoteString(key.Metric))
		from[key.Table] = min(from[key.Table], fromMs(k))
	}
	var parts []string
	for _, kind := range kinds {
		where := "MetricName IN (" + strings.Join(metrics[kind], ", ") + ") AND " + c.schema.TimeRange(from[kind], c.toMs)
		parts = append(parts, c.pointRead(kind, "false", where))
	}
	return parts
}

// pointRead is a LIMIT 1 read of one catalog row (kind, name, delta, at)
// from kind's table where the condition holds.
func (c *catalog) pointRead(kind plan.TableKind, delta, where string) string {
	return fmt.Sprintf("SELECT * FROM (SELECT %s AS kind, MetricName AS name, %s AS delta, %s FROM %s WHERE %s LIMIT 1)",
		sqlgen.QuoteString(string(kind)), delta, pointTime, c.schema.Table(c.schema.TableOf(kind)), where)
}

// probeQuery asks, for each candidate, whether its table holds a point of
// it in the range, and whether one of those points has delta temporality,
// with LIMIT 1 reads that the table's primary key (ServiceName,
// MetricName, hour, …) narrows to the metric's granules and that stop at
// the first row found: an existing metric costs a granule, not a scan of
// every row in the range. A third asks for a point in the range's last
// probePresent, the point a refresh's range (a minute on) holds; the
// first point found serves ranges within the probed one
// (probeAnswer.serves). Candidates come distinct from probe.
func (c *catalog) probeQuery(candidates []plan.Source) string {
	var parts []string
	for _, cand := range candidates {
		metric := "MetricName = " + sqlgen.QuoteString(cand.Metric)
		where := metric + " AND " + c.schema.TimeRange(c.fromMs, c.toMs)
		last := metric + " AND " + c.schema.TimeRange(max(c.fromMs, c.toMs-probePresent.Milliseconds()), c.toMs)
		parts = append(parts, c.pointRead(cand.Table, "false", where), c.pointRead(cand.Table, "false", last))
		if cand.Table != plan.TableGauge {
			parts = append(parts, c.pointRead(cand.Table, "true", where+" AND AggregationTemporality = 1"))
		}
	}
	return strings.Join(parts, "\nUNION ALL\n")
}
