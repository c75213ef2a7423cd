package sqlgen

import "github.com/go-faster/city"

// PartSid is the sid a histogram's _count or _sum source gives the series
// of stored sid stored, cityHash64(name, stored) as ClickHouse computes it
// (narrowSource): the CityHash64 of the name (v1.0.2, ClickHouse's),
// combined by Hash128to64 with intHash64 of the number, which is how
// cityHash64 hashes an integer argument. The plugin lists a part's series
// from a list of the histogram's other series with it (no lookup of its
// own); a sid it got wrong would show as a series the list lacks, which
// the flat sums answer by listing again.
func PartSid(name string, stored uint64) uint64 {
	return hash128to64(city.CH64([]byte(name)), intHash64(stored))
}

// intHash64 is ClickHouse's intHash64: a 64-bit finalizer of the number
// xor a constant (IntHash64Impl).
func intHash64(x uint64) uint64 {
	x ^= 0x4cf2d2baae6da887
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// hash128to64 is CityHash's Hash128to64 of the pair (low, high), with
// which cityHash64 combines its arguments' hashes.
func hash128to64(low, high uint64) uint64 {
	const mul = 0x9ddfea08eb382d69
	a := (low ^ high) * mul
	a ^= a >> 47
	b := (high ^ a) * mul
	b ^= b >> 47
	return b * mul
}
