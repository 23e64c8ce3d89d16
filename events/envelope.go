package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// Header names carried by every published event.
const (
	HeaderMsgID = "Nats-Msg-Id"
	HeaderType  = "Relay-Event-Type"
)

// Envelope wraps every event. ID doubles as the JetStream message id, so a
// retried publish of the same event is stored once.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	Actor     string          `json:"actor,omitempty"`
	RequestID string          `json:"requestId,omitempty"`
	Data      json.RawMessage `json:"data"`

	// Seq is the stream sequence the event was stored at. It is not part of
	// the wire form: readers set it from the message metadata.
	Seq uint64 `json:"-"`
	// Subject is the subject the event was read from (not on the wire).
	Subject string `json:"-"`
}

// New builds an envelope around payload with a fresh id.
func New(typ string, at time.Time, actor, requestID string, payload any) (Envelope, error) {
	return NewWithID(NewID(at), typ, at, actor, requestID, payload)
}

// NewWithID builds an envelope with a caller-chosen id, for events whose
// identity is fixed beforehand (a usage event's id is its request id).
func NewWithID(id, typ string, at time.Time, actor, requestID string, payload any) (Envelope, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{ID: id, Type: typ, Time: at.UTC(), Actor: actor, RequestID: requestID, Data: data}, nil
}

// Marshal returns the wire form of the envelope.
func (e Envelope) Marshal() ([]byte, error) { return json.Marshal(e) }

// ErrMalformed reports bytes that are not an envelope.
var ErrMalformed = errors.New("events: malformed envelope")

// Unmarshal parses the wire form of an envelope.
func Unmarshal(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, errors.Join(ErrMalformed, err)
	}
	if e.ID == "" || e.Type == "" {
		return Envelope{}, ErrMalformed
	}
	return e, nil
}

// NewID returns a 32-hex-digit id that sorts by creation time: 12 digits of
// Unix milliseconds, then 80 random bits. Sortable ids keep listings stable
// and make logs easier to follow.
func NewID(at time.Time) string {
	var b [16]byte
	ms := uint64(at.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic("events: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
