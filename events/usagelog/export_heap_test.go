package usagelog_test

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"relay/events/usagelog"
)

// heapSampler records the largest heap seen while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64 // HeapAlloc
}

func sampleHeap(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			s.peak = max(s.peak, m.HeapAlloc)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// Peak returns the largest HeapAlloc seen, after stopping.
func (s *heapSampler) Peak() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

// An export of 1,000,000 usage events (about 680 MB of payloads; 250,000
// under the race detector, see raceBuild) streams with a flat heap: the
// peak while it runs stays within a few megabytes of the heap before it,
// and nothing is left behind. The CSV is read back as it streams, with
// encoding/csv.
func TestExportHeapStaysFlat(t *testing.T) {
	js, n := benchStream(t)
	pr, pw := io.Pipe()
	parsed := make(chan error, 1)
	var rows, fields int
	go func() {
		r := csv.NewReader(pr)
		r.ReuseRecord = true
		var err error
		for {
			var rec []string
			rec, err = r.Read()
			if err != nil {
				break
			}
			if fields == 0 {
				fields = len(rec)
			} else if len(rec) != fields {
				err = errors.New("ragged row")
				break
			}
			rows++
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		pr.CloseWithError(err)
		parsed <- err
	}()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := sampleHeap(5 * time.Millisecond)
	start := time.Now()
	st, err := usagelog.Export(context.Background(), js, usagelog.ExportRequest{Format: usagelog.CSV}, pw)
	pw.CloseWithError(err)
	elapsed := time.Since(start)
	peak := s.Peak()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-parsed; err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	if st.Read != uint64(n) || st.Rows != uint64(n) || rows != n+1 || fields != len(usagelog.CSVColumns) {
		t.Fatalf("read %d, wrote %d rows, parsed %d records of %d fields; want %d events", st.Read, st.Rows, rows, fields, n)
	}
	const mb = 1 << 20
	growth := int64(peak) - int64(before.HeapAlloc)
	left := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d events, %d MB of CSV in %s (%.0f events/s): heap %.1f MB before, peak %.1f MB (+%.1f MB), %.1f MB after",
		n, st.Bytes/mb, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
		float64(before.HeapAlloc)/mb, float64(peak)/mb, float64(growth)/mb, float64(after.HeapAlloc)/mb)
	if growth > maxExportHeapGrowth {
		t.Errorf("heap grew by %.1f MB while exporting %d MB: want at most %d MB", float64(growth)/mb, st.Bytes/mb, maxExportHeapGrowth/mb)
	}
	if left > 1*mb {
		t.Errorf("heap %.1f MB larger after the export than before", float64(left)/mb)
	}
}

// maxExportHeapGrowth bounds the heap an export adds while it runs: the
// consumer's pull (a batch of messages), the 256 KiB output buffer and the
// garbage between two collections.
const maxExportHeapGrowth = 12 << 20
