package admin

import (
	"errors"
	"testing"

	"relay/edge/fault"
)

func TestRedactSecretsAtAnyDepthKeepingNumbersExact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"top level", `{"id":"k1","keyHash":"h","name":"n"}`, `{"id":"k1","name":"n"}`},
		{"nested in changes", `{"id":"a1","changes":{"apiKeySealed":"s","name":"x"}}`, `{"changes":{"name":"x"},"id":"a1"}`},
		{"any Sealed suffix", `{"list":[{"fooSealed":"s","v":1}]}`, `{"list":[{"v":1}]}`},
		{"password hash", `{"username":"admin","passwordHash":"$2a$"}`, `{"username":"admin"}`},
		{"notification channel", `{"id":"c1","urlSealed":"u","urlMask":"https://h/****","secretSealed":"s"}`, `{"id":"c1","urlMask":"https://h/****"}`},
		{"big numbers stay exact", `{"dailyCostLimit":12345678901234567890}`, `{"dailyCostLimit":12345678901234567890}`},
		{"not JSON", `{"keyHash":`, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(redactSecrets([]byte(tc.in))); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAuditFilterSubjects(t *testing.T) {
	for _, tc := range []struct{ entity, typ, subject, field string }{
		{"", "", "", ""},
		{"key", "", "relay.config.key.>", ""},
		{"account:a1", "", "relay.config.account.a1", ""},
		{"", "admin.created", "relay.config.admin.>", ""},
		{"key:k1", "key.updated", "relay.config.key.k1", ""},
		{"notification:c1", "", "relay.config.notification.c1", ""},
		{"", "notification.updated", "relay.config.notification.>", ""},
		{"user", "", "", "entity"},
		{"key:a.b", "", "", "entity"},
		{"key:*", "", "", "entity"},
		{"", "usage.recorded", "", "type"},
	} {
		subject, _, err := auditFilter(tc.entity, tc.typ)
		if tc.field != "" {
			var e *fault.Error
			if !errors.As(err, &e) || e.Field != tc.field {
				t.Fatalf("%q %q: error %v, want one of field %s", tc.entity, tc.typ, err, tc.field)
			}
			continue
		}
		if err != nil || subject != tc.subject {
			t.Fatalf("%q %q: subject %q err %v, want %q", tc.entity, tc.typ, subject, err, tc.subject)
		}
	}
}
