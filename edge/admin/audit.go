package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/fault"
	"relay/events"
	"relay/events/streams"
)

// The audit log is the CONFIG stream itself, read newest first: who (the
// envelope's actor) did what (the event type) to which entity (the
// subject's kind and id), when, with the payload stripped of secrets.
//
// Cost: an unfiltered page is Limit direct gets by sequence, whatever the
// stream's length. A filtered page scans the headers (not the payloads) of
// the events of the filtered subject, since JetStream has no index by
// type and counts nothing backwards; then it fetches only the page's events.

// maxAuditPage bounds AuditQuery.Limit.
const maxAuditPage = 100

// configEventTypes are the types the audit filter accepts.
var configEventTypes = []string{
	events.KeyCreated, events.KeyUpdated, events.KeyDeleted, events.KeyRestored, events.KeyActivated,
	events.AccountCreated, events.AccountUpdated, events.AccountDeleted,
	events.AdminCreated, events.AdminPasswordChanged,
	events.NotificationCreated, events.NotificationUpdated, events.NotificationDeleted,
}

var auditKinds = []string{events.EntityKey, events.EntityAccount, events.EntityAdmin, events.EntityNotification}

// AuditTypes are the event types AuditQuery.Type accepts.
func AuditTypes() []string { return slices.Clone(configEventTypes) }

// AuditEntityKinds are the kinds AuditQuery.Entity accepts.
func AuditEntityKinds() []string { return slices.Clone(auditKinds) }

// AuditQuery selects a page of the audit log.
type AuditQuery struct {
	// Entity is "key", "account", "admin" or "notification", optionally
	// followed by ":id";
	// empty means every entity.
	Entity string
	// Type is a configuration event type (events.KeyCreated, ...); empty
	// means every type.
	Type string
	// Offset entries are skipped (newest first), then at most Limit (1 to
	// 100) are returned.
	Offset, Limit int
}

// AuditEntry is one configuration event as the audit log shows it.
type AuditEntry struct {
	Seq       uint64
	ID        string
	Type      string
	Time      time.Time
	Actor     string
	RequestID string
	// EntityKind is events.EntityKey, EntityAccount, EntityAdmin or
	// EntityNotification.
	EntityKind, EntityID string
	// Data is the event's payload (JSON) without its secrets: no key hash,
	// sealed secret (an account's key, a proxy password, a notification
	// channel's URL and signing secret) or password hash at any depth; null
	// when it does not parse.
	Data json.RawMessage
}

// AuditPage is a page of the audit log and how many entries match.
type AuditPage struct {
	Entries []AuditEntry
	Total   int
}

// Audit reads a page of the audit log, newest first.
func (s *Service) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if q.Offset < 0 {
		return AuditPage{}, fault.InvalidField("page", "page must be a positive integer")
	}
	if q.Limit < 1 || q.Limit > maxAuditPage {
		return AuditPage{}, fault.InvalidField("pageSize", "pageSize must be an integer from 1 to 100")
	}
	filter, typ, err := auditFilter(q.Entity, q.Type)
	if err != nil {
		return AuditPage{}, err
	}
	stream, err := s.js.Stream(ctx, events.StreamConfig)
	if err != nil {
		return AuditPage{}, err
	}
	var seqs []uint64
	var total int
	if filter == "" {
		seqs, total, err = latestSeqs(ctx, stream, q.Offset, q.Limit)
	} else {
		seqs, total, err = filteredSeqs(ctx, stream, filter, typ, q.Offset, q.Limit)
	}
	if err != nil {
		return AuditPage{}, err
	}
	entries := make([]AuditEntry, 0, len(seqs))
	for _, seq := range seqs {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // purged since it was counted
		}
		if err != nil {
			return AuditPage{}, err
		}
		env, err := streams.FromRaw(m)
		if err != nil {
			continue // not an event: nothing to show
		}
		kind, id := events.EntityOf(env.Subject)
		entries = append(entries, AuditEntry{
			Seq: env.Seq, ID: env.ID, Type: env.Type, Time: env.Time, Actor: env.Actor, RequestID: env.RequestID,
			EntityKind: kind, EntityID: id, Data: redactSecrets(env.Data),
		})
	}
	return AuditPage{Entries: entries, Total: total}, nil
}

// auditFilter turns the entity ("key", "account", "admin", "notification",
// or one of them with ":id") and type parameters into a subject filter and
// a type to match.
func auditFilter(entity, typ string) (subject, eventType string, err error) {
	kind, id, hasID := strings.Cut(entity, ":")
	switch {
	case entity == "":
	case !slices.Contains(auditKinds, kind):
		return "", "", fault.InvalidField("entity", "entity must be key, account, admin or notification, optionally followed by :id")
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

// latestSeqs returns the sequences of the page (limit entries after
// offset) of the whole stream, newest first, by arithmetic on its first
// and last sequences.
func latestSeqs(ctx context.Context, stream jetstream.Stream, offset, limit int) ([]uint64, int, error) {
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
	if uint64(offset) >= span {
		return nil, total, nil
	}
	hi := st.LastSeq - uint64(offset)
	var seqs []uint64
	for seq := hi; seq >= max(st.FirstSeq, 1) && len(seqs) < limit; seq-- {
		seqs = append(seqs, seq)
	}
	return seqs, total, nil
}

// filteredSeqs scans the headers of the events on subject (and of type typ,
// when set) and returns the sequences of the page (limit entries after
// offset), newest first, and how many match.
func filteredSeqs(ctx context.Context, stream jetstream.Stream, subject, typ string, offset, limit int) ([]uint64, int, error) {
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
	for i := total - 1 - offset; i >= 0 && len(seqs) < limit; i-- {
		seqs = append(seqs, matches[i])
	}
	return seqs, total, nil
}

// secretFields never leave the edge, at any depth of a payload (an update's
// changes nest them).
var secretFields = []string{"keyHash", "apiKeySealed", "passwordHash", "passwordSealed", "urlSealed", "secretSealed"}

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
