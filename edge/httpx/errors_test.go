package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
)

// Every error kind has a status and a name in each dialect: an error added
// to fault without them would answer 0 or an empty type.
func TestEveryKindHasAStatusAndNames(t *testing.T) {
	for k := fault.Internal; k <= fault.Method; k++ {
		if Status(k) == 0 || adminCodes[k] == "" || anthropicTypes[k] == "" || openAITypes[k] == "" || openAICodes[k] == "" {
			t.Errorf("kind %d: status %d, admin %q, anthropic %q, openai %q/%q", k, Status(k), adminCodes[k], anthropicTypes[k], openAITypes[k], openAICodes[k])
		}
	}
}

// One error, written on a route of each dialect: the shape of that API,
// the status of its kind, Retry-After when set, the field for the admin API.
func TestWriteErrorSpeaksTheRouteDialect(t *testing.T) {
	e := fault.InvalidField("name", "name must not be empty")
	e.RetryAfter = 7
	tests := []struct {
		path, want string
	}{
		{"/api/v1/messages", `{"error":{"message":"name must not be empty","type":"invalid_request_error"},"type":"error"}`},
		{"/claude/v1/messages", `{"error":{"message":"name must not be empty","type":"invalid_request_error"},"type":"error"}`},
		{"/openai/responses", `{"error":{"code":"invalid_request","message":"name must not be empty","type":"invalid_request_error"}}`},
		{"/api/v2/keys", `{"error":{"code":"validation_error","field":"name","message":"name must not be empty"},"success":false}`},
		{"/apiStats/api/user-stats", `{"error":"Invalid request","message":"name must not be empty"}`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, tt.path, nil), rec)
		if internal := WriteError(c, e); internal {
			t.Errorf("%s: a validation error counted as internal", tt.path)
		}
		var got any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		norm, _ := json.Marshal(got)
		if rec.Code != http.StatusBadRequest || string(norm) != tt.want || rec.Header().Get("Retry-After") != "7" {
			t.Errorf("%s: %d %s (Retry-After %q), want 400 %s", tt.path, rec.Code, norm, rec.Header().Get("Retry-After"), tt.want)
		}
	}
}

// An error that is not relay's own is logged and answered as an internal
// error without its text; an Echo HTTP error keeps its status.
func TestWriteErrorHidesInternals(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/api/v2/keys", nil), rec)
	if !WriteError(c, errors.New("redis: connection refused at 10.0.0.7:6379")) {
		t.Error("an unknown error not counted as internal")
	}
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != "{\"error\":{\"code\":\"internal_error\",\"message\":\"internal error\"},\"success\":false}\n" {
		t.Errorf("internal error answered %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	c = echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/nowhere", nil), rec)
	WriteError(c, echo.ErrNotFound)
	if rec.Code != http.StatusNotFound {
		t.Errorf("echo 404 answered %d", rec.Code)
	}
}
