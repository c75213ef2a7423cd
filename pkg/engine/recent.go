package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// recentReach is how far back the recent tables are read: they keep every
// sample of the last day (a TTL of one day on whole day parts), less 4
// hours for the plugin's clock running ahead of the server's.
const recentReach = 20 * time.Hour

// recentViews are the materialized views that fill the recent tables.
var recentViews = []string{"meshmetrics_recent_sum_mv", "meshmetrics_recent_gauge_mv", "meshmetrics_recent_histogram_mv"}

// recentExtensionNames are the recent tables and their views.
var recentExtensionNames = append(append([]string{}, sqlgen.RecentTables...), recentViews...)

// withRecent sets how far back short windows may read the recent tables,
// from the engine's clock; the schema is otherwise as detected.
func (e *Engine) withRecent(s sqlgen.Schema) sqlgen.Schema {
	if e.recentInUse && s.SeriesTables {
		s.RecentFromMs = e.now().Add(-recentReach).UnixMilli()
	}
	return s
}

// recentTablesState says, from what found says of their tables and views
// (found may hold others), whether the recent tables (provisioning/clickhouse/003) are installed,
// backfilled and usable in s.Database: their three tables carry the
// backfilled version comment and the samples tables' TimeUnix type, their
// three views exist, and the series extension they copy from is in use.
// The sentence is the health check's; the bool says whether short windows
// read them.
func recentTablesState(s sqlgen.Schema, found map[string]extensionTable) (string, bool) {
	names := recentExtensionNames
	if found = only(found, names); len(found) == 0 {
		return "not installed (provisioning/clickhouse/003_recent_samples.up.sql): short windows read the samples tables, slower", false
	}
	var problems, unfilled []string
	for _, n := range names {
		if _, ok := found[n]; !ok {
			problems = append(problems, "missing "+n)
		}
	}
	for _, n := range sqlgen.RecentTables {
		t, ok := found[n]
		switch {
		case !ok:
		case t.comment == strings.TrimSuffix(sqlgen.RecentTablesVersion, " backfilled"):
			unfilled = append(unfilled, n)
		case t.comment != sqlgen.RecentTablesVersion:
			problems = append(problems, fmt.Sprintf("%s is %q, not %q", n, t.comment, sqlgen.RecentTablesVersion))
		case strings.HasPrefix(t.timeType, "DateTime64") != (s.TimeType == sqlgen.TimeDateTime64):
			problems = append(problems, fmt.Sprintf("%s has TimeUnix %s, the samples tables do not", n, t.timeType))
		}
	}
	switch {
	case len(problems) > 0:
		return "incomplete or outdated (" + strings.Join(problems, "; ") + "): short windows read the samples tables, slower; run provisioning/clickhouse/003_recent_samples.up.sql and its backfill", false
	case len(unfilled) > 0:
		return "installed, not backfilled (" + strings.Join(unfilled, ", ") + "): not read until provisioning/clickhouse/003_recent_samples.backfill.sql has run", false
	case !s.SeriesTables:
		return "installed, not used (the series tables they copy are not in use)", false
	}
	return "installed (" + sqlgen.RecentTablesVersion + "), in use for reads of at most " + sqlgen.RecentMaxSpan.String() + " in the last " + recentReach.String(), true
}
