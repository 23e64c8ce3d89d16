package usagelog

import (
	"bytes"
	"encoding/csv"
	"math"
	"testing"

	"relay/projections/pricing"
)

// The ledger writes money exactly as the rest of relay does.
func TestMoneyFormatsAgreeWithPricing(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 499, 500, 501, -499, -500, -501, 999, 1000, 5_197_500, -5_197_500, 123_456_789_012, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		if got, want := formatUSD(n), pricing.FormatUSD(n); got != want {
			t.Errorf("formatUSD(%d) = %q, pricing says %q", n, got, want)
		}
		if got, want := string(appendUSD([]byte("x"), n)), "x"+pricing.FormatUSD(n); got != want {
			t.Errorf("appendUSD(%d) = %q, pricing says %q", n, got, want)
		}
		if got, want := nanosToMicros(n), pricing.NanosToMicros(n); got != want {
			t.Errorf("nanosToMicros(%d) = %d, pricing says %d", n, got, want)
		}
	}
}

// A CSV field is written exactly as encoding/csv writes it.
func FuzzAppendCSVField(f *testing.F) {
	for _, s := range []string{"", "plain", "a,b", `say "hi"`, "two\nlines", "cr\r", " lead", "\tlead", "\u00a0nbsp", `\.`, `\.x`, "é", "\u2028x", "trail "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		if err := w.Write([]string{field, "x"}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got := append(appendCSVField(nil, field), ",x\n"...)
		if string(got) != want.String() {
			t.Fatalf("appendCSVField(%q) = %q, encoding/csv writes %q", field, got, want.String())
		}
	})
}
