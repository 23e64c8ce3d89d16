package upstreamtest

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
)

// Event is one server-sent event.
type Event struct {
	// Name is the event field ("" when absent).
	Name string
	// Data is the data lines joined by "\n".
	Data string
}

// Decode unmarshals the event's data as JSON into v.
func (e Event) Decode(v any) error { return json.Unmarshal([]byte(e.Data), v) }

// ReadEvents parses an SSE stream until EOF. It returns the complete events
// read, and the read error if the stream broke off (an event cut in half
// is dropped, as a client would). Comments and id/retry fields are
// ignored.
func ReadEvents(r io.Reader) ([]Event, error) {
	var events []Event
	var cur Event
	var data []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				if line == "" || strings.TrimRight(line, "\r") == "" {
					err = nil
				} else {
					err = io.ErrUnexpectedEOF
				}
			}
			return events, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if cur.Name != "" || data != nil {
				cur.Data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = Event{}, nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			cur.Name = value
		case "data":
			data = append(data, value)
		}
	}
}

// Names lists the events' names, for comparing sequences.
func Names(events []Event) []string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.Name
	}
	return names
}
