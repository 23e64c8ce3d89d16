package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
	"relay/events/streams"
)

// The audit log is the CONFIG stream itself, read newest first: who (the
// envelope's actor) did what (the event type) to which entity (the
// subject's kind and id), when, with the payload stripped of secrets.
//
// Cost: an unfiltered page is pageSize direct gets by sequence, whatever the
// stream's length. A filtered page scans the headers (not the payloads) of
// the events of the filtered subject, since JetStream has no index by
// type and counts nothing backwards; then it fetches only the page's events.

// configEventTypes are the types the audit filter accepts.
var configEventTypes = []string{
	events.KeyCreated, events.KeyUpdated, events.KeyDeleted, events.KeyRestored, events.KeyActivated,
	events.AccountCreated, events.AccountUpdated, events.AccountDeleted,
	events.AdminCreated, events.AdminPasswordChanged,
}

var auditKinds = []string{events.EntityKey, events.EntityAccount, events.EntityAdmin}

// auditEntry is one configuration event as the audit log shows it.
type auditEntry struct {
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestId,omitempty"`
	Entity    auditEntity     `json:"entity"`
	Data      json.RawMessage `json:"data"`
}

type auditEntity struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (s *API) ListAudit(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	if q.Search != "" || c.QueryParam("includeDeleted") != "" {
		return fault.New(fault.Invalid, "the audit log filters by entity and type, not by search or includeDeleted")
	}
	filter, typ, err := auditFilter(c.QueryParam("entity"), c.QueryParam("type"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	stream, err := s.js.Stream(ctx, events.StreamConfig)
	if err != nil {
		return err
	}
	var seqs []uint64
	var total int
	if filter == "" {
		seqs, total, err = latestSeqs(ctx, stream, q)
	} else {
		seqs, total, err = filteredSeqs(ctx, stream, filter, typ, q)
	}
	if err != nil {
		return err
	}
	items := make([]auditEntry, 0, len(seqs))
	for _, seq := range seqs {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // purged since it was counted
		}
		if err != nil {
			return err
		}
		env, err := streams.FromRaw(m)
		if err != nil {
			continue // not an event: nothing to show
		}
		kind, id := events.EntityOf(env.Subject)
		items = append(items, auditEntry{
			Seq: env.Seq, ID: env.ID, Type: env.Type, Time: env.Time, Actor: env.Actor, RequestID: env.RequestID,
			Entity: auditEntity{Kind: kind, ID: id}, Data: redactSecrets(env.Data),
		})
	}
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

// auditFilter turns the entity ("key", "account", "admin", or one of them
// with ":id") and type parameters into a subject filter and a type to match.
func auditFilter(entity, typ string) (subject, eventType string, err error) {
	kind, id, hasID := strings.Cut(entity, ":")
	switch {
	case entity == "":
	case !slices.Contains(auditKinds, kind):
		return "", "", fault.InvalidField("entity", "entity must be key, account or admin, optionally followed by :id")
	case hasID && !events.ValidToken(id):
		return "", "", fault.InvalidField("entity", "entity id is not a valid id")
	}
	if typ != "" {
		if !slices.Contains(configEventTypes, typ) {
			return "", "", fault.InvalidField("type", "type must be one of "+strings.Join(configEventTypes, ", "))
		}
		typeKind, _, _ := strings.Cut(typ, ".")
		if kind == "" {
			kind = typeKind
		}
	}
	switch {
	case kind == "":
		return "", typ, nil
	case hasID:
		return "relay.config." + kind + "." + id, typ, nil
	}
	return "relay.config." + kind + ".>", typ, nil
}

// latestSeqs returns the sequences of page q of the whole stream, newest
// first, by arithmetic on its first and last sequences.
func latestSeqs(ctx context.Context, stream jetstream.Stream, q pageQuery) ([]uint64, int, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	st := info.State
	total := int(st.Msgs)
	if st.Msgs == 0 || st.LastSeq < st.FirstSeq {
		return nil, total, nil
	}
	span := st.LastSeq - st.FirstSeq + 1
	if uint64(q.offset()) >= span {
		return nil, total, nil
	}
	hi := st.LastSeq - uint64(q.offset())
	var seqs []uint64
	for seq := hi; seq >= max(st.FirstSeq, 1) && len(seqs) < q.PageSize; seq-- {
		seqs = append(seqs, seq)
	}
	return seqs, total, nil
}

// filteredSeqs scans the headers of the events on subject (and of type typ,
// when set) and returns the sequences of page q, newest first, and how many
// match.
func filteredSeqs(ctx context.Context, stream jetstream.Stream, subject, typ string, q pageQuery) ([]uint64, int, error) {
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       true,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
		Description:       "relay audit scan",
	})
	if err != nil {
		return nil, 0, err
	}
	name := cons.CachedInfo().Name
	defer func() {
		// The inactivity threshold removes it anyway if this fails.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = stream.DeleteConsumer(dctx, name)
	}()
	// Everything on the subject when the consumer was created, no more:
	// events published during the scan belong to the next read.
	remaining := cons.CachedInfo().NumPending
	var matches []uint64
	for remaining > 0 {
		batch, err := cons.Fetch(int(min(remaining, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, 0, err
		}
		got := uint64(0)
		for m := range batch.Messages() {
			got++
			if typ != "" && m.Headers().Get(events.HeaderType) != typ {
				continue
			}
			if meta, err := m.Metadata(); err == nil {
				matches = append(matches, meta.Sequence.Stream)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, 0, err
		}
		if got == 0 {
			break // purged meanwhile: count what was read
		}
		remaining -= min(got, remaining)
	}
	total := len(matches)
	var seqs []uint64
	for i := total - 1 - q.offset(); i >= 0 && len(seqs) < q.PageSize; i-- {
		seqs = append(seqs, matches[i])
	}
	return seqs, total, nil
}

// secretFields never leave the edge, at any depth of a payload (an update's
// changes nest them).
var secretFields = []string{"keyHash", "apiKeySealed", "passwordHash", "passwordSealed"}

// redactSecrets returns data without secretFields. What does not parse is
// shown as null rather than risk showing a secret.
func redactSecrets(data json.RawMessage) json.RawMessage {
	// Numbers stay json.Number: micro-dollar amounts must not pass
	// through float64.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return json.RawMessage("null")
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if slices.Contains(secretFields, k) || strings.HasSuffix(k, "Sealed") {
				delete(t, k)
				continue
			}
			t[k] = redactValue(child)
		}
	case []any:
		for i, child := range t {
			t[i] = redactValue(child)
		}
	}
	return v
}
