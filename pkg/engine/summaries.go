package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/forma3d/meshmetrics/pkg/plan"
	"github.com/forma3d/meshmetrics/pkg/sqlgen"
)

// Window summaries (sqlgen/summaries.go) answer an instant sum of
// increase or rate over a long range from what is kept of the selector's
// points: per series, a summary of each block of the immutable past (older
// than CacheConfig.Freshness), and the points of the block where the
// range starts; a call reads only the blocks it lacks, its newest ones
// and, when the range has moved into a block not kept, that block's
// points after the range's start. A store is rebuilt from nothing once
// CacheConfig.TTL old, the result cache's bound on late rows: a point
// stored late, older than Freshness, shows at most TTL later.

// pointSummary is what extrapolatedRate needs of a run of one series'
// points, in time order.
type pointSummary struct {
	n             int64
	firstT, lastT int64 // Unix ms
	firstV, lastV float64
	resets        float64 // the sum of the values before each decrease
}

// then is s followed by later, whose points all come after s's.
func (s pointSummary) then(later pointSummary) pointSummary {
	switch {
	case later.n == 0:
		return s
	case s.n == 0:
		return later
	}
	out := later
	out.n += s.n
	out.firstT, out.firstV = s.firstT, s.firstV
	out.resets += s.resets
	if later.firstV < s.lastV {
		out.resets += s.lastV
	}
	return out
}

// extrapolated is Prometheus' extrapolatedRate (promql/functions.go,
// without start timestamps, which the exporter's rows do not carry to
// the queries) of the points s summarizes, in the range (startMs, endMs]
// of length rng: false when there are fewer than two.
func extrapolated(s pointSummary, startMs, endMs int64, rng time.Duration, isRate bool) (float64, bool) {
	if s.n < 2 {
		return 0, false
	}
	result := s.lastV - s.firstV + s.resets
	durationToStart := float64(s.firstT-startMs) / 1000
	durationToEnd := float64(endMs-s.lastT) / 1000
	sampledInterval := float64(s.lastT-s.firstT) / 1000
	averageDurationBetweenSamples := sampledInterval / float64(s.n-1)
	extrapolationThreshold := averageDurationBetweenSamples * 1.1
	if durationToStart >= extrapolationThreshold {
		durationToStart = averageDurationBetweenSamples / 2
	}
	// Counters cannot be negative: extrapolate at most to the zero point.
	durationToZero := durationToStart
	if result > 0 && s.firstV >= 0 {
		durationToZero = sampledInterval * (s.firstV / result)
	}
	if durationToZero < durationToStart {
		durationToStart = durationToZero
	}
	if durationToEnd >= extrapolationThreshold {
		durationToEnd = averageDurationBetweenSamples / 2
	}
	factor := 1.0
	if sampledInterval != 0 {
		factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	}
	if isRate {
		factor /= rng.Seconds()
	}
	return result * factor, true
}

// summaryStore is what is kept of one selector's points. It is never
// changed once kept: a call that learns more keeps a new one.
type summaryStore struct {
	born time.Time // when its oldest content was read
	// blocks are the immutable blocks' summaries by block and series (a
	// block without points has an empty map).
	blocks map[int64]map[uint64]pointSummary
	// raw are the points of block rawBlock after rawFromMs, one-point
	// summaries in time order by series; nil when none are kept.
	raw                 map[uint64][]pointSummary
	rawBlock, rawFromMs int64
	cells               int // summaries and points kept
}

const (
	// maxSummaryCells bounds what all stores keep (a cell is a block's
	// summary of a series or a kept point, 60–80 bytes with the maps):
	// 200 services over 24 hours keep about 440,000. A call that would
	// keep more runs the sum's values statement instead.
	maxSummaryCells = 1_000_000
)

// summaryCells is about what a store of n series over rng keeps.
func summaryCells(n int, rng time.Duration) int {
	perBlock := int(sqlgen.SummaryBlock / (15 * time.Second)) // points of a block at the default scrape
	return n * (int(rng/sqlgen.SummaryBlock) + 1 + perBlock)
}

// summarizedSum answers a flat sum that sqlgen.FlatSum.Summarized
// accepts at grid's one time, from the kept summaries and one statement
// for the rest; unlisted says whether a series the list lacks has points.
func (e *Engine) summarizedSum(ctx context.Context, st statement, shape sqlgen.SummaryShape, list *seriesList, grid plan.Grid, want ValueType) (res *Result, sql string, unlisted bool, err error) {
	f := st.flat
	blockMs := sqlgen.SummaryBlock.Milliseconds()
	endMs := grid.StartMs - shape.Offset.Milliseconds()
	startMs := endMs - shape.Range.Milliseconds()
	// The range's points lie in blocks head (after startMs) to tail.
	head, tail := floorDiv(startMs, blockMs), floorDiv(endMs-1, blockMs)
	now := e.cache.cfg.Now()
	immutableTo := now.Add(-e.cache.cfg.Freshness).UnixMilli()
	key := f.SelectorKey()
	old, _ := e.summaries.get(key)

	store := &summaryStore{born: now, blocks: map[int64]map[uint64]pointSummary{}}
	headKept := false
	if old != nil {
		store.born = old.born
		for k, b := range old.blocks {
			if k > head && k < tail {
				store.blocks[k] = b
			}
		}
		if old.raw != nil && old.rawBlock == head && old.rawFromMs <= startMs {
			headKept = true
			store.raw, store.rawBlock, store.rawFromMs = old.raw, old.rawBlock, old.rawFromMs
		}
	}
	// Read: the head block's points after startMs unless kept, and the
	// blocks from the first one not kept to the range's end.
	first := head + 1
	for first < tail && store.blocks[first] != nil {
		first++
	}
	rawTo := first * blockMs // no point is read as raw
	ranges := []sqlgen.SummaryRange{{LoMs: first * blockMs, HiMs: endMs}}
	switch {
	case !headKept && first == head+1:
		rawTo, ranges = (head+1)*blockMs, []sqlgen.SummaryRange{{LoMs: startMs, HiMs: endMs}}
	case !headKept:
		rawTo, ranges = (head+1)*blockMs, append([]sqlgen.SummaryRange{{LoMs: startMs, HiMs: (head + 1) * blockMs}}, ranges...)
	}
	readRaw, read := map[uint64][]pointSummary{}, map[int64]map[uint64]pointSummary{}
	fromPoints, err := e.pointsBlocks(ctx, f, ranges, rawTo, read)
	if err != nil {
		return nil, "", false, err
	}
	if fromPoints != nil {
		// Blocks summarized from settled points are as old as those.
		store.born = earlier(store.born, fromPoints.settledAt)
		sql = "-- the newest blocks summarized in the plugin from the recent points (pkg/engine/points.go), read by:\n" + fromPoints.sql
	}
	// Over many series, in slices (slices.go) by what this call reads.
	var span time.Duration
	for _, r := range ranges {
		span += time.Duration(r.HiMs-r.LoMs) * time.Millisecond
	}
	slices := e.slicesFor(len(list.sids), span)
	statements := []*sqlgen.FlatSum{f}
	switch {
	case fromPoints != nil:
		statements = nil
	case slices > 1:
		statements = nil
		for _, s := range sqlgen.SidSlices(slices) {
			sliced, err := st.slice(s)
			if err != nil {
				return nil, "", false, err
			}
			statements = append(statements, sliced.flat)
		}
	}
	for i, sf := range statements {
		text, err := sf.SummariesSQL(ranges, rawTo)
		if err != nil {
			return nil, "", false, err
		}
		if i == 0 {
			sql = text
		}
		if err := e.readSummaries(ctx, text, len(list.sids), readRaw, read); err != nil {
			return nil, "", false, err
		}
	}
	if slices > 1 && fromPoints == nil {
		sql = fmt.Sprintf("-- the summaries statement ran %d times, each over a slice of the series (sid ranges)\n%s", slices, sql)
	}

	for _, pts := range readRaw {
		sort.Slice(pts, func(i, j int) bool { return pts[i].firstT < pts[j].firstT })
	}

	// Keep what is immutable.
	for k := first; k < tail; k++ {
		if (k+1)*blockMs <= immutableTo {
			b := read[k]
			if b == nil {
				b = map[uint64]pointSummary{}
			}
			store.blocks[k] = b
		}
	}
	if !headKept && (head+1)*blockMs <= immutableTo {
		store.raw, store.rawBlock, store.rawFromMs = readRaw, head, startMs
	}
	for _, b := range store.blocks {
		store.cells += len(b)
	}
	for _, pts := range store.raw {
		store.cells += len(pts)
	}
	e.summaries.put(key, store, store.born, store.cells)

	// Each series' points in the range, in time order.
	headPoints := readRaw
	if headKept {
		headPoints = store.raw
	}
	acc := make(map[uint64]pointSummary, len(list.sids))
	for sid, pts := range headPoints {
		s := acc[sid]
		for _, p := range pts {
			if p.firstT > startMs {
				s = s.then(p)
			}
		}
		acc[sid] = s
	}
	for k := head + 1; k <= tail; k++ {
		b := read[k]
		if k < first {
			b = store.blocks[k]
		}
		for sid, s := range b {
			acc[sid] = acc[sid].then(s)
		}
	}

	groups, named, err := e.flatGroups(f, list)
	if err != nil {
		return nil, "", false, err
	}
	listed := make(map[uint64]bool, len(list.sids))
	sums, has := make([]float64, len(named)), make([]bool, len(named))
	for k, sid := range list.sids {
		listed[sid] = true
		v, ok := extrapolated(acc[sid], startMs, endMs, shape.Range, shape.Func == "rate")
		if !ok {
			continue
		}
		g := groups[k] - 1
		sums[g] += v
		has[g] = true
	}
	for sid, s := range acc {
		if s.n > 0 && !listed[sid] {
			unlisted = true
		}
	}
	res = &Result{Type: want}
	if fromPoints != nil {
		res.dataAt = fromPoints.began
	}
	at := time.UnixMilli(grid.StartMs).UTC()
	for g, labels := range named {
		if has[g] {
			res.Series = append(res.Series, Series{Labels: labels, Points: []Point{{T: at, V: sums[g]}}})
		}
	}
	if headKept || first > head+1 {
		sql = fmt.Sprintf("-- blocks before %s and the points of the block where the range starts from the kept window summaries\n%s",
			time.UnixMilli(first*blockMs).UTC().Format(time.RFC3339), sql)
	}
	return res, sql, unlisted, nil
}

// readSummaries runs a summaries statement over about series series and
// adds its rows to raw (the raw points by series) and blocks (the blocks'
// summaries by block and series); raw is sorted by time once every
// statement has run.
func (e *Engine) readSummaries(ctx context.Context, sql string, series int, raw map[uint64][]pointSummary, blocks map[int64]map[uint64]pointSummary) error {
	stmtCtx, release := e.statementContext(ctx, nil)
	defer release()
	rows, err := e.conn.Query(stmtCtx, sql)
	if err != nil {
		return e.timeoutError(queryError(err))
	}
	defer rows.Close()
	// Declared once, and each block's map made for every listed series:
	// a day of 360 series is 52,000 rows, whose allocations and map
	// growth took 120 ms when each row had its own.
	var (
		sid   uint64
		isRaw uint8
		blk   int64
		n     uint64
		s     pointSummary
	)
	for rows.Next() {
		if err := rows.Scan(&sid, &isRaw, &blk, &n, &s.firstT, &s.firstV, &s.lastT, &s.lastV, &s.resets); err != nil {
			return fmt.Errorf("read the window summaries of a sum: %w", err)
		}
		s.n = int64(n)
		if isRaw == 1 {
			// One row per point, except points sharing a series and
			// time, which summarize as one run.
			raw[sid] = append(raw[sid], s)
			continue
		}
		if blocks[blk] == nil {
			blocks[blk] = make(map[uint64]pointSummary, series)
		}
		blocks[blk][sid] = s
	}
	if err := rows.Err(); err != nil {
		return e.timeoutError(queryError(err))
	}
	return nil
}
