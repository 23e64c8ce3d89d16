package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/events"
)

// The key form: create and edit every field of DESIGN.md section 5, the
// refused ones shown next to their field; the secret shown once after
// creation with the lines to paste; delete, restore, enable, disable. The
// console only reads the form (numbers, dollar amounts, dates); every rule
// about the values is the backend's.

const (
	maxFormText   = 4096
	datetimeLocal = "2006-01-02T15:04" // <input type="datetime-local">, read as UTC
)

var (
	keyPermissions = []string{"all", "claude", "codex"}
	activationUnit = []string{"days", "hours"}
	keyClients     = []string{"claude_code", "codex_cli"}
	expiryModes    = []string{"none", "fixed", "activation"}
)

// keyFormValues are the form's inputs as text, as typed or as loaded.
type keyFormValues struct {
	Name, Description, Permissions, Tags string
	Active                               bool
	Expiry, ExpiresAt                    string
	ActivationDays, ActivationUnit       string
	ClaudeAccount, CodexAccount          string
	ModelRestriction                     bool
	Models                               string
	ClientRestriction                    bool
	Clients                              []string
	Concurrency, Window, WindowRequests  string
	WindowCost, DailyCost, TotalCost     string
	WeeklyOpus                           string
}

type keyFormView struct {
	page
	New            bool
	ID             string
	KeyVersion     uint64 // the key's version the form was read at
	V              keyFormValues
	Errors         map[string]string
	FormError      string // text: a refusal no field shows
	Deleted        bool
	Saved          string // catalogue key of what was just done
	Usage          *usageView
	Permissions    []filterOption
	Units          []filterOption
	Expiries       []filterOption
	ClaudeAccounts []filterOption
	CodexAccounts  []filterOption
	Clients        []filterOption
}

// Err returns the error text of field ("" when none): templates call it.
func (v keyFormView) Err(field string) string { return v.Errors[field] }

type secretView struct {
	page
	ID, Name, Secret string
	ClaudeLines      string
	CodexLines       string
}

func valuesOf(k events.Key) keyFormValues {
	v := keyFormValues{
		Name: k.Name, Description: k.Description, Permissions: k.Permissions, Tags: strings.Join(k.Tags, ", "),
		Active: k.IsActive, ActivationUnit: k.ActivationUnit,
		ClaudeAccount: k.ClaudeConsoleAccountID, CodexAccount: k.CodexAccountID,
		ModelRestriction: k.EnableModelRestriction, Models: strings.Join(k.RestrictedModels, "\n"),
		ClientRestriction: k.EnableClientRestriction, Clients: k.AllowedClients,
		Concurrency: intText(k.ConcurrencyLimit), Window: intText(k.RateLimitWindow), WindowRequests: intText(k.RateLimitRequests),
		WindowCost: microsText(k.RateLimitCostMicros), DailyCost: microsText(k.DailyCostLimitMicros),
		TotalCost: microsText(k.TotalCostLimitMicros), WeeklyOpus: microsText(k.WeeklyOpusCostLimitMicros),
	}
	switch {
	case k.ExpirationMode == "activation":
		v.Expiry = "activation"
		v.ActivationDays = intText(k.ActivationDays)
	case k.ExpiresAt != nil:
		v.Expiry, v.ExpiresAt = "fixed", k.ExpiresAt.UTC().Format(datetimeLocal)
	default:
		v.Expiry = "none"
	}
	if v.ActivationUnit == "" {
		v.ActivationUnit = "days"
	}
	return v
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// microsText writes micro-dollars as dollars, without trailing zeros;
// empty for 0 (no limit).
func microsText(m int64) string {
	if m == 0 {
		return ""
	}
	s := strconv.FormatInt(m/1_000_000, 10)
	if frac := m % 1_000_000; frac != 0 {
		s += "." + strings.TrimRight(leftPad(strconv.FormatInt(frac, 10), 6), "0")
	}
	return s
}

// usdText is a dollar amount as typed, trimmed; "0" for empty (no
// limit). The backend reads it.
func usdText(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "0"
	}
	return s
}

// moneyChanged reports whether the amount typed differs from old
// micro-dollars as the form showed them.
func moneyChanged(oldMicros int64, typed string) bool {
	if typed == "0" {
		return oldMicros != 0
	}
	return typed != microsText(oldMicros)
}

// list splits a comma- or newline-separated input, trimmed, without
// empties.
func list(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func formText(c echo.Context, name string) string {
	v := c.FormValue(name)
	if len(v) > maxFormText {
		v = v[:maxFormText]
	}
	return v
}

// readKeyForm reads the posted form: its values as typed (to show again)
// and as a key with its dollar amounts as typed, with the errors of what
// could not be read.
func readKeyForm(c echo.Context, l *Locale) (keyFormValues, events.Key, map[string]string, map[string]string) {
	if err := c.Request().ParseForm(); err != nil {
		return keyFormValues{}, events.Key{}, nil, map[string]string{"": l.T("error.badRequest")}
	}
	v := keyFormValues{
		Name: formText(c, "name"), Description: formText(c, "description"), Permissions: formText(c, "permissions"),
		Tags: formText(c, "tags"), Active: c.FormValue("isActive") != "",
		Expiry: formText(c, "expiry"), ExpiresAt: formText(c, "expiresAt"),
		ActivationDays: formText(c, "activationDays"), ActivationUnit: formText(c, "activationUnit"),
		ClaudeAccount: formText(c, "claudeConsoleAccountId"), CodexAccount: formText(c, "codexAccountId"),
		ModelRestriction: c.FormValue("enableModelRestriction") != "", Models: formText(c, "restrictedModels"),
		ClientRestriction: c.FormValue("enableClientRestriction") != "", Clients: c.Request().PostForm["allowedClients"],
		Concurrency: formText(c, "concurrencyLimit"), Window: formText(c, "rateLimitWindow"), WindowRequests: formText(c, "rateLimitRequests"),
		WindowCost: formText(c, "rateLimitCost"), DailyCost: formText(c, "dailyCostLimit"),
		TotalCost: formText(c, "totalCostLimit"), WeeklyOpus: formText(c, "weeklyOpusCostLimit"),
	}
	errs := map[string]string{}
	k := events.Key{
		Name: strings.TrimSpace(v.Name), Description: v.Description, Permissions: v.Permissions,
		IsActive: v.Active, Tags: list(v.Tags),
		ClaudeConsoleAccountID: v.ClaudeAccount, CodexAccountID: v.CodexAccount,
		EnableModelRestriction: v.ModelRestriction, RestrictedModels: list(v.Models),
		EnableClientRestriction: v.ClientRestriction, AllowedClients: slices.Clone(v.Clients),
		ActivationUnit: v.ActivationUnit, ExpirationMode: "fixed",
	}
	whole := func(field, text string, dst *int) {
		if strings.TrimSpace(text) == "" {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			errs[field] = l.T("field.notWhole")
			return
		}
		*dst = n
	}
	whole("concurrencyLimit", v.Concurrency, &k.ConcurrencyLimit)
	whole("rateLimitWindow", v.Window, &k.RateLimitWindow)
	whole("rateLimitRequests", v.WindowRequests, &k.RateLimitRequests)
	usd := map[string]string{
		"rateLimitCost": usdText(v.WindowCost), "dailyCostLimit": usdText(v.DailyCost),
		"totalCostLimit": usdText(v.TotalCost), "weeklyOpusCostLimit": usdText(v.WeeklyOpus),
	}
	switch v.Expiry {
	case "fixed":
		t, err := time.Parse(datetimeLocal, strings.TrimSpace(v.ExpiresAt))
		if err != nil {
			errs["expiresAt"] = l.T("field.notDate")
		} else {
			k.ExpiresAt = &t
		}
	case "activation":
		k.ExpirationMode = "activation"
		whole("activationDays", v.ActivationDays, &k.ActivationDays)
	}
	return v, k, usd, errs
}

// keyFieldsChanged names the wire fields in which k and the amounts typed
// (usd) differ from old.
func keyFieldsChanged(old, k events.Key, usd map[string]string) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", old.Name != k.Name)
	add("description", old.Description != k.Description)
	add("permissions", old.Permissions != k.Permissions)
	add("isActive", old.IsActive != k.IsActive)
	add("tags", !slices.Equal(old.Tags, k.Tags))
	add("expirationMode", old.ExpirationMode != k.ExpirationMode)
	add("expiresAt", !sameTime(old.ExpiresAt, k.ExpiresAt))
	add("activationDays", old.ActivationDays != k.ActivationDays)
	add("activationUnit", old.ActivationUnit != k.ActivationUnit)
	add("claudeConsoleAccountId", old.ClaudeConsoleAccountID != k.ClaudeConsoleAccountID)
	add("codexAccountId", old.CodexAccountID != k.CodexAccountID)
	add("enableModelRestriction", old.EnableModelRestriction != k.EnableModelRestriction)
	add("restrictedModels", !slices.Equal(old.RestrictedModels, k.RestrictedModels))
	add("enableClientRestriction", old.EnableClientRestriction != k.EnableClientRestriction)
	add("allowedClients", !slices.Equal(old.AllowedClients, k.AllowedClients))
	add("concurrencyLimit", old.ConcurrencyLimit != k.ConcurrencyLimit)
	add("rateLimitWindow", old.RateLimitWindow != k.RateLimitWindow)
	add("rateLimitRequests", old.RateLimitRequests != k.RateLimitRequests)
	add("rateLimitCost", moneyChanged(old.RateLimitCostMicros, usd["rateLimitCost"]))
	add("dailyCostLimit", moneyChanged(old.DailyCostLimitMicros, usd["dailyCostLimit"]))
	add("totalCostLimit", moneyChanged(old.TotalCostLimitMicros, usd["totalCostLimit"]))
	add("weeklyOpusCostLimit", moneyChanged(old.WeeklyOpusCostLimitMicros, usd["weeklyOpusCostLimit"]))
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// allKeyFields are the wire fields a create sends.
var allKeyFields = keyFieldsChanged(events.Key{}, events.Key{
	Name: "x", Description: "x", Permissions: "x", IsActive: true, Tags: []string{"x"}, ExpirationMode: "x",
	ExpiresAt: &time.Time{}, ActivationDays: 1, ActivationUnit: "x", ClaudeConsoleAccountID: "x", CodexAccountID: "x",
	EnableModelRestriction: true, RestrictedModels: []string{"x"}, EnableClientRestriction: true, AllowedClients: []string{"x"},
	ConcurrencyLimit: 1, RateLimitWindow: 1, RateLimitRequests: 1,
}, map[string]string{"rateLimitCost": "1", "dailyCostLimit": "1", "totalCostLimit": "1", "weeklyOpusCostLimit": "1"})

func (h *Handler) newKeyForm(c echo.Context, v keyFormView) (keyFormView, error) {
	p, err := h.newPage(c, "keyForm.title", "keys")
	if err != nil {
		return v, err
	}
	v.page = p
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	v.Permissions = options(keyPermissions, v.V.Permissions, func(s string) string { return "permission." + s })
	v.Units = options(activationUnit, v.V.ActivationUnit, func(s string) string { return "unit." + s })
	v.Expiries = options(expiryModes, v.V.Expiry, func(s string) string { return "expiry." + s })
	v.Clients = nil
	for _, cl := range keyClients {
		v.Clients = append(v.Clients, filterOption{Value: cl, Label: "client." + cl, Selected: slices.Contains(v.V.Clients, cl)})
	}
	ctx := c.Request().Context()
	for _, pl := range []struct {
		platform, current string
		dst               *[]filterOption
	}{{events.PlatformClaudeConsole, v.V.ClaudeAccount, &v.ClaudeAccounts}, {events.PlatformCodex, v.V.CodexAccount, &v.CodexAccounts}} {
		res, err := h.backend.Accounts(ctx, AccountQuery{Platform: pl.platform, Page: 1, PageSize: 100})
		if err != nil {
			return v, err
		}
		*pl.dst = []filterOption{{Value: "", Label: p.L.T("keyForm.sharedPool"), Selected: pl.current == ""}}
		found := pl.current == ""
		for _, a := range res.Items {
			name := a.Name
			if name == "" {
				name = a.ID
			}
			*pl.dst = append(*pl.dst, filterOption{Value: a.ID, Label: name, Selected: a.ID == pl.current})
			found = found || a.ID == pl.current
		}
		if !found { // bound to an account beyond the first 100, or gone
			*pl.dst = append(*pl.dst, filterOption{Value: pl.current, Label: pl.current, Selected: true})
		}
	}
	return v, nil
}

func (h *Handler) showKeyForm(c echo.Context, status int, v keyFormView) error {
	v, err := h.newKeyForm(c, v)
	if err != nil {
		return h.failed(c, err)
	}
	return h.render(c, status, "keyform", v)
}

func (h *Handler) keyNewPage(c echo.Context) error {
	return h.showKeyForm(c, http.StatusOK, keyFormView{New: true, V: keyFormValues{Permissions: "all", Active: true, Expiry: "none", ActivationUnit: "days"}})
}

func (h *Handler) meta(c echo.Context) Meta {
	s, _ := c.Get(ctxSession).(session)
	return Meta{Actor: s.Username, RequestID: requestID(c)}
}

// fieldErrors turns a backend's refusal into texts per field; ok is false
// when err is not a refusal of fields.
func fieldErrors(l *Locale, err error) (map[string]string, bool) {
	list, ok := invalidFields(err)
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for _, fe := range list {
		text := fe.Message
		if key := "field." + fe.Code; fe.Code != "" && l.Has(key) {
			text = l.T(key)
		}
		out[fe.Field] = text
	}
	return out, true
}

// formError moves the errors of fields the form does not show into one
// message above it.
func formError(errs map[string]string) string {
	shown := map[string]bool{"": false}
	for _, f := range allKeyFields {
		shown[f] = true
	}
	var rest []string
	for f, text := range errs {
		if !shown[f] {
			if f != "" {
				text = f + ": " + text
			}
			rest = append(rest, text)
		}
	}
	slices.Sort(rest)
	return strings.Join(rest, " ")
}

func (h *Handler) keyCreate(c echo.Context) error {
	l := h.locale(c)
	vals, k, usd, errs := readKeyForm(c, l)
	if len(errs) == 0 {
		created, err := h.backend.CreateKey(c.Request().Context(), KeyInput{Key: k, USD: usd, Fields: allKeyFields, Meta: h.meta(c)})
		if err == nil {
			return h.showSecret(c, created)
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	return h.showKeyForm(c, http.StatusBadRequest, keyFormView{New: true, V: vals, Errors: errs, FormError: formError(errs)})
}

// publicBase is the URL clients reach relay at, from the request.
func (h *Handler) publicBase(c echo.Context) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/")
	}
	scheme := "http"
	if h.cfg.Secure(c.Request()) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

func (h *Handler) showSecret(c echo.Context, k CreatedKey) error {
	p, err := h.newPage(c, "secret.title", "keys")
	if err != nil {
		return err
	}
	base := h.publicBase(c)
	v := secretView{
		page: p, ID: k.ID, Name: k.Name, Secret: k.Secret,
		ClaudeLines: "export ANTHROPIC_BASE_URL=" + base + "/api\nexport ANTHROPIC_AUTH_TOKEN=" + k.Secret,
		CodexLines: "# ~/.codex/config.toml\nmodel_provider = \"relay\"\n\n[model_providers.relay]\nname = \"relay\"\nbase_url = \"" + base +
			"/openai\"\nenv_key = \"RELAY_API_KEY\"\nwire_api = \"responses\"\n\n# in the shell\nexport RELAY_API_KEY=" + k.Secret,
	}
	return h.render(c, http.StatusCreated, "secret", v)
}

func (h *Handler) keyEditPage(c echo.Context) error {
	d, err := h.backend.Key(c.Request().Context(), c.Param("id"))
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	saved := ""
	if s := c.QueryParam("done"); s != "" && slices.Contains([]string{"saved", "delete", "restore", "enable", "disable"}, s) {
		saved = "keyForm.done." + s
	}
	usage, err := h.entityUsage(c.Request().Context(), h.locale(c), d.Key.ID, "")
	if err != nil {
		return h.failed(c, err)
	}
	return h.showKeyForm(c, http.StatusOK, keyFormView{ID: d.Key.ID, KeyVersion: d.Version, V: valuesOf(d.Key), Deleted: d.IsDeleted, Saved: saved, Usage: usage})
}

func (h *Handler) keyUpdate(c echo.Context) error {
	l := h.locale(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	d, err := h.backend.Key(ctx, id)
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	version, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
	vals, k, usd, errs := readKeyForm(c, l)
	view := keyFormView{ID: id, KeyVersion: version, V: vals, Deleted: d.IsDeleted}
	if len(errs) == 0 {
		k.ID = id
		err := h.backend.UpdateKey(ctx, id, KeyInput{Key: k, USD: usd, Fields: keyFieldsChanged(d.Key, k, usd), Version: version, Meta: h.meta(c)})
		switch {
		case err == nil:
			return c.Redirect(http.StatusSeeOther, "/console/keys/"+url.PathEscape(id)+"?done=saved")
		case isNotFound(err): // deleted meanwhile
			return h.notFound(c)
		case isConflict(err):
			view.FormError = l.T("keyForm.conflict")
			view.KeyVersion = d.Version
			return h.showKeyForm(c, http.StatusConflict, view)
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	view.Errors, view.FormError = errs, formError(errs)
	return h.showKeyForm(c, http.StatusBadRequest, view)
}

func (h *Handler) keyState(c echo.Context) error {
	action := KeyAction(c.FormValue("action"))
	if !slices.Contains([]KeyAction{KeyDelete, KeyRestore, KeyEnable, KeyDisable}, action) {
		return h.errorPage(c, http.StatusBadRequest, "error.badRequest")
	}
	id := c.Param("id")
	err := h.backend.ChangeKeyState(c.Request().Context(), id, action, h.meta(c))
	switch {
	case isNotFound(err):
		return h.notFound(c)
	case isConflict(err):
		return h.errorPage(c, http.StatusConflict, "keyForm.stateConflict")
	case err != nil:
		return h.failed(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/console/keys/"+url.PathEscape(id)+"?done="+string(action))
}
