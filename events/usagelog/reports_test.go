package usagelog_test

import (
	"bytes"
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"relay/events/natstest"
	"relay/events/usagelog"
)

// Reports (the console's Usage page source) answers what Aggregate and
// Export answer over the same stream, days counted in its zone.
func TestReportsReadTheStream(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	publish(t, js, fixture(120, 7))
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	rep := usagelog.Reports{JS: js, Loc: shanghai}
	if rep.Location() != shanghai || (usagelog.Reports{}).Location() != time.UTC {
		t.Error("Location: the zone given, UTC without one")
	}
	r, err := usagelog.ParseExportRequest(url.Values{"outcome": {"ok"}}, time.Now(), shanghai)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dims := []usagelog.Dim{usagelog.DimDay}
	gotKeys, gotTotals, _, err := rep.Aggregate(ctx, r, dims)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys, wantTotals, _, err := usagelog.Aggregate(ctx, js, r, dims, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotKeys) == 0 || !reflect.DeepEqual(gotKeys, wantKeys) || !reflect.DeepEqual(gotTotals, wantTotals) {
		t.Errorf("Reports.Aggregate %v, want %v", gotKeys, wantKeys)
	}
	var got, want bytes.Buffer
	if _, err := rep.Export(ctx, r, &got); err != nil {
		t.Fatal(err)
	}
	if _, err := usagelog.Export(ctx, js, r, &want); err != nil {
		t.Fatal(err)
	}
	if got.Len() == 0 || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("Reports.Export wrote %d bytes, Export %d", got.Len(), want.Len())
	}
}
