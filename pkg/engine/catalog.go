package engine

import (
	"context"
	"fmt"
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
	var ask []plan.Source
	for _, cand := range candidates {
		key := plan.Source{Table: cand.Table, Metric: cand.Metric}
		if c.probed[key] {
			continue
		}
		c.probed[key] = true
		if a, ok := c.answers.get(probeKey{key, c.fromMs, c.toMs}); ok {
			if a.found {
				c.known = c.known.add(storedName{table: key.Table, metric: key.Metric, delta: a.delta})
			}
			continue
		}
		ask = append(ask, key)
	}
	if len(ask) > 0 {
		stored, err := c.storedNames(ctx, ask)
		if err != nil {
			return nil, err
		}
		for _, n := range stored {
			c.known = c.known.add(n)
		}
		for _, key := range ask {
			found, delta := stored.find(key.Table, key.Metric)
			c.answers.putNow(probeKey{key, c.fromMs, c.toMs}, probeAnswer{found: found, delta: delta}, 1)
		}
	}
	return c.known, nil
}

// The catalog's probes (is this metric stored in this table in this
// range, with delta temporality?) are kept for probeAnswerTTL: a
// dashboard's queries ask the same of the same range, each probe costing
// a round trip of 10–20 ms. The bound on late rows: a metric's first
// rows in a range, or its first delta rows, show at most probeAnswerTTL
// after an answer without them; until then its selectors read nothing
// from that table, as if the rows had come later.
type probeAnswers = kept[probeKey, probeAnswer]

type probeKey struct {
	source       plan.Source // table and metric
	fromMs, toMs int64
}

type probeAnswer struct{ found, delta bool }

const (
	probeAnswerTTL = time.Minute
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
		found, delta := stored.find(cand.Table, cand.Metric)
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
}

type storedNames []storedName

func (s storedNames) find(t plan.TableKind, metric string) (found, delta bool) {
	for _, n := range s {
		if n.table == t && n.metric == metric {
			return true, n.delta
		}
	}
	return false, false
}

// storedNames lists the metric names the tables hold in the catalog's time
// range: the candidates' names when there are candidates (an exact
// __name__), else every name (a __name__ regex), at most maxCatalogNames.
func (c *catalog) storedNames(ctx context.Context, candidates []plan.Source) (storedNames, error) {
	query := c.probeQuery(candidates)
	if len(candidates) == 0 {
		query = c.listQuery()
	}
	rows, err := c.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list metric names: %w", err)
	}
	defer rows.Close()
	var out storedNames
	for rows.Next() {
		var kind, name string
		var delta bool
		if err := rows.Scan(&kind, &name, &delta); err != nil {
			return nil, fmt.Errorf("list metric names: %w", err)
		}
		out = out.add(storedName{table: plan.TableKind(kind), metric: name, delta: delta})
	}
	return out, rows.Err()
}

// add records a name, merging a second row of the same name (the delta
// probe's) into the first.
func (s storedNames) add(n storedName) storedNames {
	for i := range s {
		if s[i].table == n.table && s[i].metric == n.metric {
			s[i].delta = s[i].delta || n.delta
			return s
		}
	}
	return append(s, n)
}

// listQuery lists every stored name with its temporality: it reads the
// MetricName column of every row in the range, so it serves only regex
// matchers on __name__.
func (c *catalog) listQuery() string {
	var parts []string
	for _, kind := range []plan.TableKind{plan.TableSum, plan.TableGauge, plan.TableHistogram} {
		delta := "max(AggregationTemporality = 1)"
		if kind == plan.TableGauge {
			delta = "false"
		}
		parts = append(parts, fmt.Sprintf("SELECT %s AS kind, MetricName AS name, toBool(%s) AS delta FROM %s WHERE %s GROUP BY MetricName",
			sqlgen.QuoteString(string(kind)), delta, c.schema.Table(c.schema.TableOf(kind)), c.schema.TimeRange(c.fromMs, c.toMs)))
	}
	return strings.Join(parts, "\nUNION ALL\n") + fmt.Sprintf("\nLIMIT %d", maxCatalogNames)
}

// probeQuery asks, for each candidate, whether its table holds a point of
// it in the range, and whether one of those points has delta temporality.
// Each probe is a LIMIT 1 read that the table's primary key (ServiceName,
// MetricName, hour, …) narrows to the metric's granules and that stops at
// the first row found, so an existing metric costs one granule, not a
// scan of every row in the range as listing names does. The delta probe
// reads only the AggregationTemporality column of the metric's rows.
// Candidates come distinct from probe.
func (c *catalog) probeQuery(candidates []plan.Source) string {
	var parts []string
	for _, cand := range candidates {
		table := c.schema.Table(c.schema.TableOf(cand.Table))
		where := fmt.Sprintf("MetricName = %s AND %s", sqlgen.QuoteString(cand.Metric), c.schema.TimeRange(c.fromMs, c.toMs))
		kind := sqlgen.QuoteString(string(cand.Table))
		parts = append(parts, fmt.Sprintf("SELECT * FROM (SELECT %s AS kind, MetricName AS name, false AS delta FROM %s WHERE %s LIMIT 1)", kind, table, where))
		if cand.Table != plan.TableGauge {
			parts = append(parts, fmt.Sprintf("SELECT * FROM (SELECT %s AS kind, MetricName AS name, true AS delta FROM %s WHERE %s AND AggregationTemporality = 1 LIMIT 1)", kind, table, where))
		}
	}
	return strings.Join(parts, "\nUNION ALL\n")
}
