package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"relay/events"
)

// fakeBackend is an in-memory Backend: the rules it applies are the
// fake's, only there to drive the pages.
type fakeBackend struct {
	mu        sync.Mutex // protects everything below
	passwords map[string]string
	versions  map[string]uint64
	ended     map[string]time.Time
	throttle  bool
	fail      error
	overview  Overview
	series    map[Granularity]Series
	keys      []KeyRow
	lastQuery KeyQuery
	accounts  []AccountRow
	lastAcct  AccountQuery
	audit     []AuditEntry
	lastAudit AuditQuery
	signIns   []SignInInput
	recent    []RequestRecord
	followers []chan RequestRecord
	details   map[string]*KeyDetail
	acctByID  map[string]*AccountDetail
	acctIn    AccountInput
	acctActs  []string
	lastUsage UsageQuery
	lastSer   SeriesQuery
	lastInput KeyInput
	states    []string
}

var _ Backend = (*fakeBackend)(nil)

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		passwords: map[string]string{"admin": "correct horse"},
		versions:  map[string]uint64{"admin": 7},
		ended:     map[string]time.Time{},
		series:    map[Granularity]Series{},
	}
}

func (f *fakeBackend) SignIn(_ context.Context, in SignInInput) (SignInResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signIns = append(f.signIns, in)
	if f.fail != nil {
		return SignInResult{}, f.fail
	}
	if f.throttle {
		return SignInResult{}, &ThrottledError{RetryAfter: 90 * time.Second}
	}
	pw, ok := f.passwords[in.Username]
	if !ok || pw != in.Password {
		return SignInResult{}, ErrBadCredentials
	}
	return SignInResult{Admin: Admin{Username: in.Username, PasswordVersion: f.versions[in.Username]}, Device: "d1.device", DeviceExpires: time.Now().Add(time.Hour)}, nil
}

func (f *fakeBackend) CheckSession(_ context.Context, username string, version uint64) (Admin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Admin{}, f.fail
	}
	v, ok := f.versions[username]
	if !ok || v != version {
		return Admin{}, ErrNoAdmin
	}
	return Admin{Username: username, PasswordVersion: v}, nil
}

func (f *fakeBackend) ChangePassword(_ context.Context, in ChangePasswordInput) (Admin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.passwords[in.Username] != in.CurrentPassword {
		return Admin{}, &FieldError{Field: "currentPassword", Code: "wrong", Message: "currentPassword is wrong"}
	}
	if len(in.NewPassword) < 8 {
		return Admin{}, &FieldError{Field: "newPassword", Code: "too_short", Message: "newPassword must be 8 to 72 bytes long"}
	}
	f.passwords[in.Username] = in.NewPassword
	f.versions[in.Username]++
	return Admin{Username: in.Username, PasswordVersion: f.versions[in.Username]}, nil
}

func (f *fakeBackend) EndSession(_ context.Context, id string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended[id] = until
	return nil
}

func (f *fakeBackend) SessionEnded(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.ended[id]
	return ok, nil
}

func (f *fakeBackend) Overview(context.Context) (Overview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overview, f.fail
}

func (f *fakeBackend) Series(_ context.Context, q SeriesQuery) (Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastSer = q
	s, ok := f.series[q.Granularity]
	if !ok {
		s = Series{Granularity: q.Granularity}
	}
	return s, f.fail
}

func (f *fakeBackend) Keys(_ context.Context, q KeyQuery) (KeyPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQuery = q
	match := f.keys
	if q.Search != "" || q.Status != "" {
		match = nil
	}
	for _, k := range f.keys {
		if q.Search == "" && q.Status == "" {
			break // no filter: page the whole list, as the store does
		}
		if q.Search != "" && !strings.Contains(strings.ToLower(k.Name+" "+k.ID), strings.ToLower(q.Search)) {
			continue
		}
		if q.Status == KeysDeleted && !k.IsDeleted || q.Status != KeysDeleted && q.Status != "" && k.IsDeleted {
			continue
		}
		match = append(match, k)
	}
	from := min((q.Page-1)*q.PageSize, len(match))
	to := min(from+q.PageSize, len(match))
	return KeyPage{Items: match[from:to], Total: len(match)}, f.fail
}

func (f *fakeBackend) Accounts(_ context.Context, q AccountQuery) (AccountPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAcct = q
	var match []AccountRow
	for _, a := range f.accounts {
		if (q.Platform == "" || a.Platform == q.Platform) && strings.Contains(strings.ToLower(a.Name+" "+a.ID), strings.ToLower(q.Search)) {
			match = append(match, a)
		}
	}
	from := min((q.Page-1)*q.PageSize, len(match))
	to := min(from+q.PageSize, len(match))
	return AccountPage{Items: match[from:to], Total: len(match)}, f.fail
}

func (f *fakeBackend) Audit(_ context.Context, q AuditQuery) (AuditPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAudit = q
	var match []AuditEntry
	for _, e := range f.audit {
		if (q.EntityKind == "" || e.EntityKind == q.EntityKind) && (q.EntityID == "" || e.EntityID == q.EntityID) && (q.Type == "" || e.Type == q.Type) {
			match = append(match, e)
		}
	}
	from := min((q.Page-1)*q.PageSize, len(match))
	to := min(from+q.PageSize, len(match))
	return AuditPage{Items: match[from:to], Total: len(match)}, f.fail
}

func (f *fakeBackend) Recent(_ context.Context, q RecentQuery) ([]RequestRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RequestRecord
	for _, r := range f.recent {
		if len(out) < q.N && (q.KeyID == "" || r.KeyID == q.KeyID) && (q.AccountID == "" || r.AccountID == q.AccountID) {
			out = append(out, r)
		}
	}
	return out, f.fail
}

func (f *fakeBackend) ModelUsage(_ context.Context, q UsageQuery) ([]RankedModel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastUsage = q
	return f.overview.TopModels, f.fail
}

func (f *fakeBackend) Follow(ctx context.Context, fn func(RequestRecord)) error {
	ch := make(chan RequestRecord, 16)
	f.mu.Lock()
	f.followers = append(f.followers, ch)
	f.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			fn(r)
		}
	}
}

// record hands r to every follower, as the usage stream would.
func (f *fakeBackend) record(r RequestRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recent = append([]RequestRecord{r}, f.recent...)
	for _, ch := range f.followers {
		select {
		case ch <- r:
		default: // a feed that ended
		}
	}
}

// inputs returns the last key and account inputs (browser tests read them
// while the server runs).
func (f *fakeBackend) inputs() (KeyInput, AccountInput) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastInput, f.acctIn
}

// followerCount is how many live feeds are open.
func (f *fakeBackend) followerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.followers)
}

func (f *fakeBackend) Key(_ context.Context, id string) (KeyDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.details[id]
	if !ok {
		return KeyDetail{}, ErrNotFound
	}
	return *d, f.fail
}

// fakeParseUSD is the fake's stand-in for the backend's reading of dollar
// amounts ("12", "12.5", "$0.000001") into micro-dollars.
func fakeParseUSD(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "$")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 6 || len(whole) > 12 || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	var f int64
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, false
		}
	}
	return w*1_000_000 + f, true
}

// fakeReadUSD reads the key's dollar amounts into its micro-dollar limits.
func fakeReadUSD(in *KeyInput) error {
	var errs FieldErrors
	for field, dst := range map[string]*int64{
		"rateLimitCost": &in.Key.RateLimitCostMicros, "dailyCostLimit": &in.Key.DailyCostLimitMicros,
		"totalCostLimit": &in.Key.TotalCostLimitMicros, "weeklyOpusCostLimit": &in.Key.WeeklyOpusCostLimitMicros,
	} {
		m, ok := fakeParseUSD(in.USD[field])
		if !ok {
			errs = append(errs, FieldError{Field: field, Code: "notMoney", Message: field + " must be a number (US dollars)"})
		}
		*dst = m
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// validate is the fake's stand-in for the backend's rules.
func fakeValidate(k events.Key) error {
	var errs FieldErrors
	if k.Name == "" {
		errs = append(errs, FieldError{Field: "name", Code: "required", Message: "name is required"})
	}
	if k.RateLimitWindow < 0 {
		errs = append(errs, FieldError{Field: "rateLimitWindow", Message: "rateLimitWindow must be at least 0"})
	}
	if k.DailyCostLimitMicros > 1_000_000_000_000 {
		errs = append(errs, FieldError{Field: "dailyCostLimit", Message: "dailyCostLimit must be at most 1000000"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (f *fakeBackend) CreateKey(_ context.Context, in KeyInput) (CreatedKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := fakeReadUSD(&in); err != nil {
		return CreatedKey{}, err
	}
	f.lastInput = in
	if err := fakeValidate(in.Key); err != nil {
		return CreatedKey{}, err
	}
	if f.details == nil {
		f.details = map[string]*KeyDetail{}
	}
	k := in.Key
	k.ID = fmt.Sprintf("key-new-%d", len(f.details)+1)
	f.details[k.ID] = &KeyDetail{Key: k, Version: 1}
	f.keys = append([]KeyRow{{ID: k.ID, Name: k.Name, IsActive: k.IsActive, Tags: k.Tags}}, f.keys...)
	return CreatedKey{ID: k.ID, Name: k.Name, Secret: "cr_" + strings.Repeat("ab", 32)}, nil
}

func (f *fakeBackend) UpdateKey(_ context.Context, id string, in KeyInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := fakeReadUSD(&in); err != nil {
		return err
	}
	f.lastInput = in
	d, ok := f.details[id]
	switch {
	case !ok:
		return ErrNotFound
	case d.IsDeleted || in.Version != d.Version:
		return ErrConflict
	}
	if err := fakeValidate(in.Key); err != nil {
		return err
	}
	d.Key, d.Version = in.Key, d.Version+1
	return nil
}

func (f *fakeBackend) ChangeKeyState(_ context.Context, id string, action KeyAction, meta Meta) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.details[id]
	if !ok {
		return ErrNotFound
	}
	f.states = append(f.states, string(action)+" by "+meta.Actor)
	switch action {
	case KeyDelete:
		d.IsDeleted = true
	case KeyRestore:
		d.IsDeleted = false
	case KeyEnable, KeyDisable:
		if d.IsDeleted {
			return ErrConflict
		}
		d.Key.IsActive = action == KeyEnable
	}
	d.Version++
	return nil
}

func (f *fakeBackend) Account(_ context.Context, id string) (AccountDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.acctByID[id]
	if !ok {
		return AccountDetail{}, ErrNotFound
	}
	return *d, f.fail
}

func fakeValidateAccount(a *AccountFields, create bool) error {
	var errs FieldErrors
	if m, ok := fakeParseUSD(a.DailyQuota); ok {
		a.DailyQuotaMicros = m
	} else {
		errs = append(errs, FieldError{Field: "dailyQuota", Code: "notMoney", Message: "dailyQuota must be a number (US dollars)"})
	}
	if a.Name == "" {
		errs = append(errs, FieldError{Field: "name", Code: "required", Message: "name is required"})
	}
	if create && a.APIKey == "" {
		errs = append(errs, FieldError{Field: "apiKey", Code: "required", Message: "apiKey is required"})
	}
	if !strings.HasPrefix(a.APIURL, "http://") && !strings.HasPrefix(a.APIURL, "https://") {
		errs = append(errs, FieldError{Field: "apiUrl", Message: "apiUrl must be an http(s) URL"})
	}
	if a.Priority < 1 || a.Priority > 100 {
		errs = append(errs, FieldError{Field: "priority", Message: "priority must be 1 to 100"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (f *fakeBackend) CreateAccount(_ context.Context, in AccountInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := fakeValidateAccount(&in.Account, true)
	f.acctIn = in
	if err != nil {
		return "", err
	}
	if f.acctByID == nil {
		f.acctByID = map[string]*AccountDetail{}
	}
	id := fmt.Sprintf("acc-new-%d", len(f.acctByID)+1)
	a := in.Account
	mask := "…" + a.APIKey[max(0, len(a.APIKey)-4):]
	hasPw := a.Proxy != nil && a.Proxy.Password != ""
	a.APIKey = ""
	if a.Proxy != nil {
		p := *a.Proxy
		p.Password = ""
		a.Proxy = &p
	}
	f.acctByID[id] = &AccountDetail{ID: id, Account: a, APIKeyMask: mask, HasProxyPassword: hasPw, Version: 1}
	f.accounts = append(f.accounts, AccountRow{ID: id, Name: a.Name, Platform: a.Platform, APIKeyMask: mask, IsActive: a.IsActive, Schedulable: a.Schedulable})
	return id, nil
}

func (f *fakeBackend) UpdateAccount(_ context.Context, id string, in AccountInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acctIn = in
	d, ok := f.acctByID[id]
	switch {
	case !ok:
		return ErrNotFound
	case in.Version != d.Version:
		return ErrConflict
	}
	if err := fakeValidateAccount(&in.Account, false); err != nil {
		return err
	}
	f.acctIn = in
	a := in.Account
	a.APIKey = ""
	d.Account, d.Version = a, d.Version+1
	return nil
}

func (f *fakeBackend) ChangeAccount(_ context.Context, id string, action AccountAction, meta Meta) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.acctByID[id]
	if !ok {
		return ErrNotFound
	}
	f.acctActs = append(f.acctActs, string(action)+" by "+meta.Actor)
	switch action {
	case AccountDelete:
		if d.Account.AccountType == "dedicated" {
			return &FieldError{Message: "the account is the dedicated account of 1 API key(s): key-00002; bind them elsewhere or delete them first"}
		}
		delete(f.acctByID, id)
	case AccountToggleSchedule:
		d.Account.Schedulable = !d.Account.Schedulable
		d.Version++
	}
	return nil
}

func (f *fakeBackend) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// newTestServer mounts a console over backend the way relay does.
func newTestServer(t testing.TB, backend Backend, tweak ...func(*Config)) (*echo.Echo, *Handler) {
	t.Helper()
	cfg := Config{Secret: testSecret, Version: "v-test"}
	for _, f := range tweak {
		f(&cfg)
	}
	h, err := New(cfg, backend)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/", RedirectRoot)
	h.Mount(e.Group("/console"))
	return e, h
}

// browser is a minimal cookie-keeping client over an echo server.
type browser struct {
	t       testing.TB
	e       *echo.Echo
	cookies map[string]*http.Cookie
	header  http.Header
}

func newBrowser(t testing.TB, e *echo.Echo) *browser {
	return &browser{t: t, e: e, cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	b.e.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	rec := b.get(path)
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF token in the page (status %d)", path, rec.Code)
	}
	return m[1]
}

// signIn signs in as admin with the fake's password.
func (b *browser) signIn(password string) {
	b.t.Helper()
	tok := b.csrf("/console/login")
	rec := b.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {password}, "next": {"/console/"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/" {
		b.t.Fatalf("sign in: %d %s\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

func requireStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d\n%s", rec.Code, want, rec.Body)
	}
}

func requireContains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func sampleKeys(n int) []KeyRow {
	out := make([]KeyRow, n)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = KeyRow{ID: fmt.Sprintf("key-%05d", i), Name: fmt.Sprintf("team %05d", i), IsActive: true, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
	}
	return out
}
