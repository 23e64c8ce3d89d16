package usagelog_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"relay/events/natstest"
	"relay/events/usagelog"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	berlin := time.FixedZone("CEST", 2*3600)
	cases := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-01-02T15:04:05Z", want: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{in: "2026-01-02T15:04:05.5+02:00", want: time.Date(2026, 1, 2, 13, 4, 5, 5e8, time.UTC)},
		{in: "2026-01-02", want: time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC)}, // midnight in loc
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: " 7d ", want: now.Add(-7 * 24 * time.Hour)},
		{in: "1d12h", want: now.Add(-36 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "0s", want: now},
		{in: "yesterday", bad: true},
		{in: "-1h", bad: true},
		{in: "1d-1h", bad: true},
		{in: "xd", bad: true},
		{in: "", bad: true},
		{in: "2026-13-01", bad: true},
	}
	for _, tc := range cases {
		got, err := usagelog.ParseTime(tc.in, now, berlin)
		if tc.bad != (err != nil) || (!tc.bad && !got.Equal(tc.want)) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseDimsAndFormat(t *testing.T) {
	dims, err := usagelog.ParseDims("day, key,model")
	if err != nil || !slices.Equal(dims, []usagelog.Dim{usagelog.DimDay, usagelog.DimKey, usagelog.DimModel}) {
		t.Fatalf("%v %v", dims, err)
	}
	for _, bad := range []string{"", "week", "day,,key", "key,key"} {
		if _, err := usagelog.ParseDims(bad); err == nil {
			t.Errorf("ParseDims(%q) accepted", bad)
		}
	}
	for _, f := range []string{"ndjson", "csv"} {
		if _, err := usagelog.ParseFormat(f); err != nil {
			t.Errorf("ParseFormat(%q): %v", f, err)
		}
	}
	if _, err := usagelog.ParseFormat("json"); err == nil {
		t.Error("ParseFormat(json) accepted")
	}
}

// An error from the callback ends the replay with that error.
func TestReplayCallbackError(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	publish(t, js, fixture(10, 20))
	stop := errors.New("enough")
	n := 0
	st, err := usagelog.Replay(context.Background(), js, usagelog.Query{}, func(*usagelog.Event) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || st.Matched != 3 {
		t.Fatalf("err %v, matched %d", err, st.Matched)
	}
}
