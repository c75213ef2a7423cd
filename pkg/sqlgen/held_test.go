package sqlgen_test

import (
	"path/filepath"
	"testing"
)

// TestHeldNamesSQL pins the listing of the names held on a range's days
// (the engine's held.go): the days of the range's points, as the series
// views take them.
func TestHeldNamesSQL(t *testing.T) {
	s := schema
	s.SeriesTables = true
	// Eight days, the last one 2023-11-14 (UTC), as the engine asks.
	got := s.HeldNamesSQL(1699315200000, 1700006400000-1, 10001)
	compareGolden(t, filepath.Join("testdata", "golden", "series", "held_names.sql"), "-- the names held on 2023-11-07 to 2023-11-14\n"+got+"\n")
}
