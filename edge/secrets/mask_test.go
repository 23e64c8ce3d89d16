package secrets

import "testing"

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "***"},
		{"abc", "***"},
		{"sk-12345678", "***"}, // 11 characters
		{"sk-123456789", "sk-...789"},
		{"sk-ant-api03-Xy7Qq9LmN2pR5tVw8zA1bC4dE6fG0hJ3kL5mN7pQ9rS2tU4vW6xY8zA0bC2dE4fG6hJ8kL0mN2pQ4rS6tU8vW0xY2zA4bC6dE8f-a9c", "sk-ant-...a9c"},
		{"sk-proj-abcdefghijklmnopqrstuvwxyza9c", "sk-proj-...a9c"},
		{"sk-projects-abcdefghijklmnopqrstuvwxyza9c", "sk-...a9c"}, // the marker ends past the 8-character window
		{"cr_" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abca9c", "cr_...a9c"},
		{"AIzaSyD4kJ2mN8pQ1rS5tU7vW9xY0zA3bC6dE", "AIz...6dE"},
		{"0123456789ab", "012...9ab"},
		{"ключ-секрет-значение", "ключ-...ние"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
