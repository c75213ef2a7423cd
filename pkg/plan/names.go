package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// Candidates lists where a PromQL metric name may be stored, most likely
// first. The collector's Prometheus receiver keeps Prometheus names (with
// _total); receivers configured for OTel-normalised names store counters
// without _total. A classic histogram is one row per point in the
// histogram table under its base name; PromQL addresses its series as
// <name>_bucket, <name>_count and <name>_sum.
func Candidates(name string) []Source {
	out := []Source{
		{Table: TableSum, Metric: name, Part: PartValue},
		{Table: TableGauge, Metric: name, Part: PartValue},
	}
	if base, ok := strings.CutSuffix(name, "_total"); ok && base != "" {
		out = append(out, Source{Table: TableSum, Metric: base, Part: PartValue})
	}
	for suffix, part := range map[string]Part{"_bucket": PartBucket, "_count": PartCount, "_sum": PartSum} {
		if base, ok := strings.CutSuffix(name, suffix); ok && base != "" {
			out = append(out, Source{Table: TableHistogram, Metric: base, Part: part})
		}
	}
	for i := range out {
		out[i].Name = name
	}
	return out
}

// NamingCatalog resolves names by naming conventions alone, without asking
// a server: for explaining a query offline. Counters end in _total,
// histogram series in _bucket/_count/_sum, everything else is a gauge.
type NamingCatalog struct{}

// Resolve picks the conventional source of an exact metric name.
func (NamingCatalog) Resolve(_ context.Context, m *labels.Matcher) ([]Source, error) {
	if m.Type != labels.MatchEqual {
		return nil, fmt.Errorf("without a server the metric name must be exact, got __name__%s%q", m.Type, m.Value)
	}
	name := m.Value
	for _, c := range Candidates(name) {
		switch {
		case c.Table == TableHistogram:
			return []Source{c}, nil
		case c.Table == TableSum && strings.HasSuffix(name, "_total") && c.Metric == name:
			return []Source{c}, nil
		}
	}
	return []Source{{Table: TableGauge, Metric: name, Part: PartValue, Name: name}}, nil
}
