package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// ErrConflict reports a write based on a stale read: the entity's subject has
// moved past the sequence the writer expected.
var ErrConflict = errors.New("streams: entity changed since it was read")

// Msg builds the NATS message for env on subject.
func Msg(subject string, env events.Envelope) (*nats.Msg, error) {
	data, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(events.HeaderMsgID, env.ID)
	m.Header.Set(events.HeaderType, env.Type)
	return m, nil
}

// Publish stores env on subject and returns its stream sequence. The event id
// is the message id, so a retry after a lost acknowledgement stores nothing
// new. When expectLast is non-nil the write only succeeds if the subject's
// last sequence is still *expectLast (0: no event yet), else ErrConflict.
func Publish(ctx context.Context, js jetstream.JetStream, subject string, env events.Envelope, expectLast *uint64) (uint64, error) {
	m, err := Msg(subject, env)
	if err != nil {
		return 0, err
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(env.ID)}
	if expectLast != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*expectLast))
	}
	ack, err := js.PublishMsg(ctx, m, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, ErrConflict
		}
		return 0, fmt.Errorf("publish %s: %w", env.Type, err)
	}
	return ack.Sequence, nil
}

// FromMsg turns a stored message back into its envelope, with the stream
// sequence and subject set.
func FromMsg(m jetstream.Msg) (events.Envelope, error) {
	env, err := events.Unmarshal(m.Data())
	if err != nil {
		return events.Envelope{}, err
	}
	meta, err := m.Metadata()
	if err != nil {
		return events.Envelope{}, err
	}
	env.Seq = meta.Sequence.Stream
	env.Subject = m.Subject()
	return env, nil
}

// FromRaw turns a message read directly from a stream (GetMsg, direct get)
// into its envelope.
func FromRaw(m *jetstream.RawStreamMsg) (events.Envelope, error) {
	env, err := events.Unmarshal(m.Data)
	if err != nil {
		return events.Envelope{}, err
	}
	env.Seq = m.Sequence
	env.Subject = m.Subject
	return env, nil
}
