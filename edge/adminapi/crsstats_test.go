package adminapi

import (
	"encoding/json"
	"testing"

	"relay/projections"
)

// Costs are written as CRS's CostCalculator.formatCost writes them, from
// exact nano-dollars.
func TestCRSFormatCost(t *testing.T) {
	for _, c := range []struct {
		nanos int64
		want  string
	}{
		{0, "$0.000000"},
		{499, "$0.000000"},
		{500, "$0.000001"},
		{999_499, "$0.000999"},
		{999_500, "$0.001000"}, // rounds up to a tenth of a cent, still written below it
		{1_000_000, "$0.0010"},
		{64_730_000, "$0.0647"},
		{64_750_000, "$0.0648"},
		{999_999_999, "$1.0000"},
		{1_000_000_000, "$1.00"},
		{3_690_000_000, "$3.69"},
		{123_456_789_012, "$123.46"},
		{-5, "$0.000000"},
	} {
		if got := crsFormatCost(c.nanos); got != c.want {
			t.Errorf("crsFormatCost(%d) = %s, want %s", c.nanos, got, c.want)
		}
	}
}

// The share of a limit used is exact however large the amounts, and the
// nearest limit is the one with the largest share.
func TestKeyStatsLimitShares(t *testing.T) {
	for _, c := range []struct {
		used, limit int64
		want        json.Number
	}{
		{0, 5, "0"},
		{1, 3, "33.33"},
		{2, 3, "66.66"},
		{5, 5, "100.00"},
		{7, 5, "140.00"},
		{9_000_000_000_000_000_000 / 10, 9_000_000_000_000_000_000 / 9, "90.00"},
		{3, 0, "0"},
	} {
		if got := ratio100(c.used, c.limit); got != c.want {
			t.Errorf("ratio100(%d, %d) = %s, want %s", c.used, c.limit, got, c.want)
		}
	}
	ls := []projections.KeyLimit{
		{Kind: projections.LimitTotalCost, Limit: 100_000_000_000, Used: 10_000_000_000},
		{Kind: projections.LimitDailyCost, Limit: 5_000_000_000, Used: 3_690_000_000},
		{Kind: projections.LimitConcurrency, Limit: 4, Used: 2},
	}
	if n := nearestLimit(ls); n == nil || n.Kind != projections.LimitDailyCost || n.Percent != "73.80" {
		t.Fatalf("nearest %+v", n)
	}
	if n := nearestLimit(nil); n != nil {
		t.Fatalf("nearest of none %+v", n)
	}
	if got := ratio(1, 3, 4); got != "0.3333" {
		t.Fatalf("ratio 1/3 = %s", got)
	}
}
