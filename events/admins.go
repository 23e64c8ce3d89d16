package events

// Admin event types (stream CONFIG, subject AdminSubject).
const (
	AdminCreated         = "admin.created"
	AdminPasswordChanged = "admin.password_changed"
)

// AdminCreatedData is the payload of AdminCreated. Only a bcrypt hash of the
// password is ever carried.
type AdminCreatedData struct {
	Username     string `json:"username"`
	PasswordHash string `json:"passwordHash"`
}

// AdminPasswordChangedData is the payload of AdminPasswordChanged. Every token
// issued before it stops working.
type AdminPasswordChangedData struct {
	Username     string `json:"username"`
	PasswordHash string `json:"passwordHash"`
}
