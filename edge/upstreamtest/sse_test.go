package upstreamtest

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	in := ": comment\r\n" +
		"event: a\r\ndata: {\"x\":1}\r\n\r\n" +
		"data: line1\ndata:line2\nid: 7\n\n" +
		"event: b\n\n"
	evs, err := ReadEvents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "events", evs, []Event{{"a", `{"x":1}`}, {"", "line1\nline2"}, {"b", ""}})
	var v struct{ X int }
	if err := evs[0].Decode(&v); err != nil || v.X != 1 {
		t.Errorf("Decode = %v, %v", v, err)
	}

	evs, err = ReadEvents(strings.NewReader("event: a\ndata: 1\n\nevent: b\ndata: 2"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut stream: error %v", err)
	}
	equal(t, "complete events of a cut stream", Names(evs), []string{"a"})
}
