package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Label sets: a dashboard's variables ask for the values of several
// labels of one metric's series (its namespaces, then the services in
// the one chosen, then a service's names), each a statement over the
// series table that computes every series' labels: 20–70 ms each at 20
// and 200 services. With the series extension, the label sets of the
// metric's series over the range's days are listed once and kept as
// metadata answers are (metadataAnswerTTL, the same bound on series
// stored since: metadata.go); each call filters them by its own matchers
// in the plugin, as derived series lists are (flat.go). A selector of
// several metrics, or a metric with more than maxLabelSets series, keeps
// to its own statement.

// labelSets is one listing: each series' label names and values.
type labelSets struct {
	names, values [][]string
	// complete: the listing holds every series (not cut at maxLabelSets).
	complete bool
}

const maxLabelSets = 20_000

// fromLabelSets answers a metadata call on sel over the days of (fromMs,
// toMs] from the kept label sets of sel's metric, listing them first when
// none are kept; ok is false when they cannot answer it.
func (e *Engine) fromLabelSets(ctx context.Context, schema sqlgen.Schema, sel plan.Selector, fromMs, toMs int64, fromSet func(names, values []string) []string) (out []string, ok bool, err error) {
	if len(sel.Sources) != 1 || e.labelSets == nil {
		return nil, false, nil
	}
	every := sel
	every.Matchers = nil
	sql, err := sqlgen.LabelSetsSQL(schema, every, fromMs, toMs, maxLabelSets+1)
	if err != nil {
		return nil, false, err
	}
	sets, listed := e.labelSets.get(sql)
	if !listed {
		if sets, err = e.listLabelSets(ctx, sql, sel.Sources[0].Name); err != nil {
			return nil, false, err
		}
		// Weighed by the label pairs kept, as metadata answers by values.
		weight := 1
		for _, names := range sets.names {
			weight += len(names)
		}
		e.labelSets.putNow(sql, sets, weight)
	}
	if !sets.complete {
		return nil, false, nil
	}
	seen := map[string]bool{}
	out = []string{}
	for k := range sets.names {
		if !matchesNamed(sel.Matchers, sets.names[k], sets.values[k]) {
			continue
		}
		for _, v := range fromSet(sets.names[k], sets.values[k]) {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out[:min(len(out), MaxMetadata)], true, nil
}

// listLabelSets runs the label sets statement of the metric named name.
func (e *Engine) listLabelSets(ctx context.Context, sql, name string) (*labelSets, error) {
	rows, err := e.conn.Query(ctx, sql)
	if err != nil {
		return nil, queryError(err)
	}
	defer rows.Close()
	sets := &labelSets{}
	for rows.Next() {
		var pairs string
		if err := rows.Scan(&pairs); err != nil {
			return nil, fmt.Errorf("list the label sets of %s's series: %w", name, err)
		}
		names, values, err := decodeLabelPairs(pairs)
		if err != nil {
			return nil, fmt.Errorf("list the label sets of %s's series: %w", name, err)
		}
		sets.names, sets.values = append(sets.names, names), append(sets.values, values)
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(err)
	}
	sets.complete = len(sets.names) <= maxLabelSets
	if !sets.complete {
		// Only the fact is kept.
		sets.names, sets.values = nil, nil
	}
	return sets, nil
}

// decodeLabelPairs reads a label set as sqlgen's label_pairs column
// writes it: each name and value as its length (4 bytes, little-endian)
// then its bytes.
func decodeLabelPairs(b string) (names, values []string, err error) {
	size := len(b)
	next := func() (string, bool) {
		if len(b) < 4 {
			return "", false
		}
		n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		if len(b)-4 < n {
			return "", false
		}
		s := b[4 : 4+n]
		b = b[4+n:]
		return s, true
	}
	for len(b) > 0 {
		name, ok := next()
		value, ok2 := next()
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("a label set of %d bytes ends inside a label, %d bytes from its end", size, len(b))
		}
		names, values = append(names, name), append(values, value)
	}
	return names, values, nil
}
