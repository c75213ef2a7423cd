package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Names held on a range's days. A dashboard's panels over names stored
// nowhere (pairs without access logs, certificates not issued, the forms
// a name is not stored under: _sum in the sum table beside a histogram)
// each paid a read of the exporter's tables to learn so: 7–27 ms at 20
// services, up to 47 ms over 7 days at 200, about a tenth of a 20-service
// load. With the series extension in use, the series table lists every
// name with points on a day (its views see every insert, late rows
// included), and the plugin reads the values from the extension's
// tables: a name it does not list for the days of a range has no point
// there. One read of the names held on the heldNamesDays days ending on
// the range's last one answers every such form of a load at once; a name
// listed gets its probe as before, a listed day being no proof of a
// point in the range.
//
// The bound on new names is the screens' (catalog.go): a listing is kept
// for probeAbsentKeep, and the answers it gives are as old as it is.

// heldNamesDays is how many days, the range's last one included, a
// listing covers at least: a 24-hour and a 7-day dashboard share it.
const heldNamesDays = 8

// daySpan is a span of days since the epoch (UTC), both included.
type daySpan struct{ lo, hi int64 }

// heldNames is one listing: the names the series table holds on its days.
type heldNames struct {
	names map[string]bool
	// complete: the listing holds every name (not cut at maxCatalogNames).
	complete bool
	asOf     time.Time // the engine's clock when it was read
}

const dayMs int64 = 24 * 60 * 60 * 1000

// namesHeld returns a kept listing covering the catalog's range, reading
// one when none is kept and read says so; ok is false when the series
// extension is not in use, no listing is kept or read, or the listing was
// cut short, and so says nothing of a name it lacks.
func (c *catalog) namesHeld(ctx context.Context, read bool) (held heldNames, ok bool, err error) {
	if !c.schema.SeriesTables || c.held == nil {
		return heldNames{}, false, nil
	}
	want := daySpan{lo: max(0, c.fromMs) / dayMs, hi: max(0, c.toMs) / dayMs}
	found := false
	c.held.each(func(span daySpan, h heldNames) {
		// The newest covering listing: its answers last the longest.
		if span.lo <= want.lo && span.hi >= want.hi && (!found || h.asOf.After(held.asOf)) {
			held, found = h, true
		}
	})
	if found || !read {
		return held, found && held.complete, nil
	}
	span := daySpan{lo: max(0, min(want.lo, want.hi-heldNamesDays+1)), hi: want.hi}
	held = heldNames{names: map[string]bool{}, asOf: c.answers.clock()}
	sql := c.schema.HeldNamesSQL(span.lo*dayMs, (span.hi+1)*dayMs-1, maxCatalogNames+1)
	what := fmt.Sprintf("list the metric names %s holds from %s to %s", sqlgen.SeriesTable,
		time.UnixMilli(span.lo*dayMs).UTC().Format(time.DateOnly), time.UnixMilli(span.hi*dayMs).UTC().Format(time.DateOnly))
	rows, err := c.conn.Query(ctx, sql)
	if err != nil {
		return heldNames{}, false, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return heldNames{}, false, fmt.Errorf("%s: %w", what, err)
		}
		held.names[name] = true
	}
	if err := rows.Err(); err != nil {
		return heldNames{}, false, fmt.Errorf("%s: %w", what, err)
	}
	held.complete = len(held.names) <= maxCatalogNames
	c.held.put(span, held, held.asOf, len(held.names))
	return held, held.complete, nil
}

// dropUnheld answers "not stored" for the keys to screen and to probe
// whose metric the series table does not hold on the range's days, and
// returns the others, all to probe: the screen is there to learn cheaply
// that a name is stored nowhere, which the listing has said, and a name
// held would pay it on top of its probe. Without keys to screen, and
// with only forms of names found stored to probe (ofFound), the probe is
// one statement whatever the listing says: a kept listing is used, none
// is read.
func (c *catalog) dropUnheld(ctx context.Context, screen, ask []plan.Source, ofFound map[plan.Source]bool) (screenHeld, askHeld []plan.Source, err error) {
	if len(screen)+len(ask) == 0 {
		return screen, ask, nil
	}
	read := len(screen) > 0 || slices.ContainsFunc(ask, func(k plan.Source) bool { return !ofFound[k] })
	held, ok, err := c.namesHeld(ctx, read)
	if err != nil || !ok {
		return screen, ask, err
	}
	keep := func(keys []plan.Source, screened bool) []plan.Source {
		var out []plan.Source
		for _, key := range keys {
			if held.names[key.Metric] {
				out = append(out, key)
				continue
			}
			c.answers.put(key, probeAnswer{fromMs: c.fromMs, toMs: c.toMs, asOfMs: held.asOf.UnixMilli(), screened: screened}, held.asOf, 1)
		}
		return out
	}
	return nil, append(keep(ask, false), keep(screen, true)...), nil
}
