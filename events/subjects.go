package events

import "strings"

// Stream names (DESIGN.md section 6).
const (
	StreamConfig = "CONFIG"
	StreamUsage  = "USAGE"
	StreamState  = "STATE"
	StreamNotify = "NOTIFY"
)

// Subject prefixes and the wildcards each stream stores.
const (
	configPrefix = "relay.config."
	usagePrefix  = "relay.usage."
	statePrefix  = "relay.state.account."

	ConfigSubjects = "relay.config.>"
	UsageSubjects  = "relay.usage.>"
	StateSubjects  = "relay.state.>"

	notifyPrefix   = "relay.notify."
	NotifySubjects = "relay.notify.>"
)

// KeySubject is the subject of every event about API key id.
func KeySubject(id string) string { return configPrefix + "key." + id }

// AccountSubject is the subject of every configuration event about account id.
func AccountSubject(id string) string { return configPrefix + "account." + id }

// AdminSubject is the subject of every event about admin username.
func AdminSubject(username string) string { return configPrefix + "admin." + username }

// UsageSubject is the subject of usage events of one key on one platform.
func UsageSubject(platform, keyID string) string {
	return usagePrefix + platform + "." + keyID
}

// NotificationSubject is the subject of every configuration event about
// notification channel id.
func NotificationSubject(id string) string { return configPrefix + "notification." + id }

// NotifySubject is the subject of the notifications queued for channel id.
func NotifySubject(channelID string) string { return notifyPrefix + channelID }

// AccountStateSubject is the subject of health events of account id.
func AccountStateSubject(id string) string { return statePrefix + id }

// ValidToken reports whether s can be one token of a subject: ids and
// usernames become subject tokens, so they must not contain separators or
// wildcards.
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return !strings.ContainsAny(s, ".*> \t\r\n")
}

// Entity kinds named by CONFIG and STATE subjects.
const (
	EntityKey          = "key"
	EntityAccount      = "account"
	EntityAdmin        = "admin"
	EntityNotification = "notification"
	EntityAccountState = "state"
)

// EntityOf splits a CONFIG or STATE subject into the entity kind and its id;
// kind is "" for any other subject.
func EntityOf(subject string) (kind, id string) {
	switch {
	case strings.HasPrefix(subject, configPrefix):
		kind, id, _ = strings.Cut(subject[len(configPrefix):], ".")
		return kind, id
	case strings.HasPrefix(subject, statePrefix):
		return EntityAccountState, subject[len(statePrefix):]
	}
	return "", ""
}

// UsageOf splits a USAGE subject into platform and key id.
func UsageOf(subject string) (platform, keyID string, ok bool) {
	if !strings.HasPrefix(subject, usagePrefix) {
		return "", "", false
	}
	return strings.Cut(subject[len(usagePrefix):], ".")
}
