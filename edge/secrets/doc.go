// Package secrets protects credentials: upstream API keys and proxy
// passwords are sealed with AES-256-GCM before they enter an event or Redis,
// and shown only masked; user API keys are generated here and stored only as
// their SHA-256.
//
// Imports: the standard library only.
package secrets
