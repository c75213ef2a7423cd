package engine_test

import (
	"context"
	"math"
	"testing"

	"github.com/forma3d/meshmetrics/pkg/sqlgen"
	"github.com/forma3d/meshmetrics/tests/otelfixture"
)

// sqlgen.PartSid computes in Go the sid ClickHouse gives a histogram
// part's series (cityHash64(name, stored)): every pair below is asked of
// the server and must agree.
func TestPartSid(t *testing.T) {
	_, conn := otelfixture.Start(t)
	names := []string{"x_sum", "traefik_service_request_duration_seconds_sum", "traefik_service_request_duration_seconds_count",
		"a_count", "a_very_long_histogram_name_that_is_longer_than_sixty_four_bytes_total_sum", "é_sum"}
	storeds := []uint64{0, 1, 42, 1 << 32, 15048197714576382458, ^uint64(0)}
	for _, name := range names {
		for _, stored := range storeds {
			var got uint64
			if err := conn.QueryRow(context.Background(), "SELECT cityHash64(?, toUInt64(?))", name, stored).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := sqlgen.PartSid(name, stored); got != want {
				t.Errorf("PartSid(%q, %d) = %d, ClickHouse's cityHash64 %d", name, stored, want, got)
			}
		}
	}
}

// sqlgen.BucketSid computes the sid ClickHouse gives a bucket
// (cityHash64(base, bound), a Float64 bound): every pair is asked of the
// server.
func TestBucketSid(t *testing.T) {
	_, conn := otelfixture.Start(t)
	bases := []uint64{0, 1, 1 << 32, 15048197714576382458, ^uint64(0)}
	bounds := []float64{0, math.Copysign(0, -1), 0.005, 0.1, 0.3, 1, 1.2, 5, 2.5e-7, 1e21, -1, math.Inf(1), math.MaxFloat64}
	for _, base := range bases {
		for _, bound := range bounds {
			var got uint64
			// The bound's bits, not its text: a bound parameter -0 arrives as 0.
			if err := conn.QueryRow(context.Background(), "SELECT cityHash64(toUInt64(?), reinterpretAsFloat64(toUInt64(?)))", base, math.Float64bits(bound)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := sqlgen.BucketSid(base, bound); got != want {
				t.Errorf("BucketSid(%d, %v) = %d, ClickHouse's cityHash64 %d", base, bound, want, got)
			}
		}
	}
}
