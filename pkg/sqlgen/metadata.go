package sqlgen

import (
	"fmt"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// Metadata statements feed the query editor and template variables: the
// label names and values of the series a selector reads in a time range.
// DISTINCT with LIMIT lets ClickHouse stop reading once it has enough, and
// the selector's metric names and time range prune as in queries.

// LabelNamesSQL lists the label names of sel's series in (fromMs, toMs].
func LabelNamesSQL(schema Schema, sel plan.Selector, fromMs, toMs int64, limit int) (string, error) {
	rows, err := metadataRows(schema, sel, fromMs, toMs)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT DISTINCT arrayJoin(arrayMap(x -> x.1, labels)) AS name\nFROM (\n%s\n)\nORDER BY name\nLIMIT %d\nSETTINGS allow_experimental_analyzer = 0",
		indent(rows), limit), nil
}

// LabelValuesSQL lists the values label takes on sel's series.
func LabelValuesSQL(schema Schema, sel plan.Selector, label string, fromMs, toMs int64, limit int) (string, error) {
	rows, err := metadataRows(schema, sel, fromMs, toMs)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT DISTINCT %s AS value\nFROM (\n%s\n)\nWHERE value != ''\nORDER BY value\nLIMIT %d\nSETTINGS allow_experimental_analyzer = 0",
		labelValue("labels", label), indent(rows), limit), nil
}

// LabelSetsSQL lists the label sets of sel's series, at most limit, as
// label_pairs (labelPairs): the plugin filters them by label matchers and reads
// label names and values from them.
func LabelSetsSQL(schema Schema, sel plan.Selector, fromMs, toMs int64, limit int) (string, error) {
	rows, err := metadataRows(schema, sel, fromMs, toMs)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT %s\nFROM (\n%s\n)\nLIMIT %d\nSETTINGS allow_experimental_analyzer = 0",
		labelPairs("labels"), indent(rows), limit), nil
}

// metadataRows are the label sets (labels) of sel's series, stale markers
// included (a series that just ended still has its labels).
func metadataRows(schema Schema, sel plan.Selector, fromMs, toMs int64) (string, error) {
	b := &builder{schema: schema}
	s, err := b.samples(sel, fromMs, toMs, true)
	if err != nil {
		return "", err
	}
	return "SELECT slabels AS labels FROM (\n" + indent(s.series) + "\n)", nil
}
