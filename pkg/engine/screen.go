package engine

import (
	"cmp"
	"slices"

	"github.com/forma3d/meshmetrics/pkg/plan"
)

// maxScreenedAlong bounds the other names one screen renews.
const maxScreenedAlong = 32

// A dashboard's refresh comes a minute after its load, when every name
// found stored nowhere has passed probeAbsentKeep: each panel over such
// names (pairs without access logs, certificates not issued, a renamed
// metric's old name) would pay a screen of its own, about a tenth of a
// 20-service refresh. The first query that screens renews the others'
// answers in the same statement; the answers are as fresh as their own
// screen would have made them, so the bound on new names is unchanged.

// absentAlong is the kept answers, for names other than the candidates',
// that their own queries would screen now: kept by a screen (no form of
// the name stored), for a range reaching the present, past
// probeAbsentKeep. Only a screen whose own range reaches the present
// takes them along.
func (c *catalog) absentAlong(nowMs int64, candidates []plan.Source) []keptAbsence {
	if c.toMs < nowMs-probePresent.Milliseconds() {
		return nil
	}
	var along []keptAbsence
	c.answers.each(func(key plan.Source, a probeAnswer) {
		if a.screened && a.expiredAbsence(nowMs) && !listed(candidates, key.Table, key.Metric) {
			along = append(along, keptAbsence{key: key, fromMs: a.fromMs})
		}
	})
	slices.SortFunc(along, func(a, b keptAbsence) int {
		return cmp.Or(cmp.Compare(a.key.Table, b.key.Table), cmp.Compare(a.key.Metric, b.key.Metric))
	})
	return along[:min(len(along), maxScreenedAlong)]
}

// keptAbsence is a kept answer that a name is stored nowhere in the range
// from fromMs.
type keptAbsence struct {
	key    plan.Source
	fromMs int64
}

// alongParts are the screen's reads for the other names: one LIMIT 1 read
// per table from the earliest of their ranges to the screen's end.
func (c *catalog) alongParts(along []keptAbsence) []string {
	keys := make([]plan.Source, len(along))
	for k, a := range along {
		keys[k] = a.key
	}
	return c.renewalParts(keys, func(k int) int64 { return along[k].fromMs })
}

// renewAlong keeps the other names' absence as of asOfMs, for their
// ranges up to the screen's end, in each table whose read found none of
// them (held: the screen's rows, screened: the query's own keys). Where
// one of them is stored now the read does not say which: they are left
// to their own queries' screens.
func (c *catalog) renewAlong(along []keptAbsence, held storedNames, screened []plan.Source, asOfMs int64) {
	for _, a := range along {
		found := slices.ContainsFunc(held, func(n storedName) bool {
			return n.table == a.key.Table && !listed(screened, n.table, n.metric)
		})
		if !found {
			c.answers.putNow(a.key, probeAnswer{fromMs: a.fromMs, toMs: c.toMs, asOfMs: asOfMs, screened: true}, 1)
		}
	}
}

// listed says whether keys hold the table's metric.
func listed(keys []plan.Source, table plan.TableKind, metric string) bool {
	return slices.ContainsFunc(keys, func(k plan.Source) bool { return k.Table == table && k.Metric == metric })
}
