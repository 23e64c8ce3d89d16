package usagelog

import (
	"context"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Reports reads usage reports (Aggregate, Export) from the USAGE stream
// through JS, bucketing days and hours in Loc (nil: UTC): what the web
// console's Usage page needs, without the console touching NATS. JS
// should be the analyst's read-only connection.
type Reports struct {
	JS  jetstream.JetStream
	Loc *time.Location
}

// Location is the zone day and hour groups are counted in.
func (r Reports) Location() *time.Location {
	if r.Loc == nil {
		return time.UTC
	}
	return r.Loc
}

// Aggregate is Aggregate over r's stream and zone.
func (r Reports) Aggregate(ctx context.Context, req ExportRequest, dims []Dim) ([][]string, []Totals, Stats, error) {
	return Aggregate(ctx, r.JS, req, dims, r.Location())
}

// Export is Export over r's stream.
func (r Reports) Export(ctx context.Context, req ExportRequest, w io.Writer) (ExportStats, error) {
	return Export(ctx, r.JS, req, w)
}
