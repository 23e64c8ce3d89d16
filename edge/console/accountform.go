package console

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"relay/events"
)

// The account form: create and edit an upstream account (Claude Console
// or Codex), its key and proxy password written only, never shown; toggle
// schedulable, reset its rate limit, delete it.

var (
	accountTypes   = []string{"shared", "dedicated"}
	proxyProtocols = []string{"", "http", "https", "socks5"}
)

type accountFormValues struct {
	Platform, Name, Description, APIURL, APIKey, UserAgent string
	Models                                                 string
	Priority                                               string
	Schedulable, Active                                    bool
	AccountType                                            string
	ProxyProtocol, ProxyHost, ProxyPort                    string
	ProxyUser, ProxyPassword                               string
	RateLimitDuration, DailyQuota, QuotaResetTime          string
	MaxConcurrency                                         string
}

type accountFormView struct {
	page
	New              bool
	ID               string
	AccountVersion   uint64
	V                accountFormValues
	KeyMask          string
	HasProxyPassword bool
	Errors           map[string]string
	FormError        string
	Saved            string
	Usage            *usageView
	Platforms        []filterOption
	Types            []filterOption
	Protocols        []filterOption
}

// Err returns the error text of field ("" when none).
func (v accountFormView) Err(field string) string { return v.Errors[field] }

func accountValues(d AccountDetail) accountFormValues {
	a := d.Account
	v := accountFormValues{
		Platform: a.Platform, Name: a.Name, Description: a.Description, APIURL: a.APIURL, UserAgent: a.UserAgent,
		Models: modelsText(a.SupportedModels), Priority: strconv.Itoa(a.Priority),
		Schedulable: a.Schedulable, Active: a.IsActive, AccountType: a.AccountType,
		RateLimitDuration: intText(a.RateLimitDuration), DailyQuota: microsText(a.DailyQuotaMicros),
		QuotaResetTime: a.QuotaResetTime, MaxConcurrency: intText(a.MaxConcurrency),
	}
	if p := a.Proxy; p != nil {
		v.ProxyProtocol, v.ProxyHost, v.ProxyPort, v.ProxyUser = p.Protocol, p.Host, intText(p.Port), p.Username
	}
	return v
}

// modelsText writes a model mapping one "requested = upstream" per line
// (just the name when both are the same), sorted.
func modelsText(m map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == k || m[k] == "" {
			lines = append(lines, k)
		} else {
			lines = append(lines, k+" = "+m[k])
		}
	}
	return strings.Join(lines, "\n")
}

// parseModels reads modelsText's form back.
func parseModels(s string) (map[string]string, bool) {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, to, found := strings.Cut(line, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !found {
			to = from
		}
		if from == "" || to == "" {
			return nil, false
		}
		out[from] = to
	}
	return out, true
}

func readAccountForm(c echo.Context, l *Locale) (accountFormValues, AccountFields, map[string]string) {
	v := accountFormValues{
		Platform: formText(c, "platform"), Name: formText(c, "name"), Description: formText(c, "description"),
		APIURL: formText(c, "apiUrl"), APIKey: formText(c, "apiKey"), UserAgent: formText(c, "userAgent"),
		Models: formText(c, "supportedModels"), Priority: formText(c, "priority"),
		Schedulable: c.FormValue("schedulable") != "", Active: c.FormValue("isActive") != "",
		AccountType:   formText(c, "accountType"),
		ProxyProtocol: formText(c, "proxyProtocol"), ProxyHost: formText(c, "proxyHost"), ProxyPort: formText(c, "proxyPort"),
		ProxyUser: formText(c, "proxyUsername"), ProxyPassword: formText(c, "proxyPassword"),
		RateLimitDuration: formText(c, "rateLimitDuration"), DailyQuota: formText(c, "dailyQuota"),
		QuotaResetTime: formText(c, "quotaResetTime"), MaxConcurrency: formText(c, "maxConcurrency"),
	}
	errs := map[string]string{}
	a := AccountFields{
		Platform: v.Platform, Name: strings.TrimSpace(v.Name), Description: v.Description,
		APIURL: strings.TrimSpace(v.APIURL), APIKey: strings.TrimSpace(v.APIKey), UserAgent: v.UserAgent,
		Schedulable: v.Schedulable, IsActive: v.Active, AccountType: v.AccountType,
		QuotaResetTime: strings.TrimSpace(v.QuotaResetTime),
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
	whole("priority", v.Priority, &a.Priority)
	whole("rateLimitDuration", v.RateLimitDuration, &a.RateLimitDuration)
	whole("maxConcurrency", v.MaxConcurrency, &a.MaxConcurrency)
	a.DailyQuota = usdText(v.DailyQuota)
	if m, ok := parseModels(v.Models); ok {
		a.SupportedModels = m
	} else {
		errs["supportedModels"] = l.T("field.notModels")
	}
	if v.ProxyProtocol != "" {
		p := &ProxyFields{Protocol: v.ProxyProtocol, Host: strings.TrimSpace(v.ProxyHost), Username: v.ProxyUser, Password: v.ProxyPassword}
		whole("proxy", v.ProxyPort, &p.Port)
		a.Proxy = p
	}
	return v, a, errs
}

// accountFieldsChanged names the wire fields in which a differs from old;
// the write-only secrets count as changed when typed.
func accountFieldsChanged(old, a AccountFields) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("name", old.Name != a.Name)
	add("description", old.Description != a.Description)
	add("apiUrl", old.APIURL != a.APIURL)
	add("apiKey", a.APIKey != "")
	add("userAgent", old.UserAgent != a.UserAgent)
	add("supportedModels", !maps.Equal(old.SupportedModels, a.SupportedModels) && !(len(old.SupportedModels) == 0 && len(a.SupportedModels) == 0))
	add("priority", old.Priority != a.Priority)
	add("schedulable", old.Schedulable != a.Schedulable)
	add("isActive", old.IsActive != a.IsActive)
	add("accountType", old.AccountType != a.AccountType)
	add("proxy", proxyChanged(old.Proxy, a.Proxy))
	add("rateLimitDuration", old.RateLimitDuration != a.RateLimitDuration)
	add("dailyQuota", moneyChanged(old.DailyQuotaMicros, a.DailyQuota))
	add("quotaResetTime", old.QuotaResetTime != a.QuotaResetTime)
	add("maxConcurrency", old.MaxConcurrency != a.MaxConcurrency)
	return out
}

func proxyChanged(old, p *ProxyFields) bool {
	if old == nil || p == nil {
		return (old == nil) != (p == nil)
	}
	return old.Protocol != p.Protocol || old.Host != p.Host || old.Port != p.Port || old.Username != p.Username || p.Password != ""
}

var allAccountFields = []string{"platform", "name", "description", "apiUrl", "apiKey", "userAgent", "supportedModels", "priority",
	"schedulable", "isActive", "accountType", "proxy", "rateLimitDuration", "dailyQuota", "quotaResetTime", "maxConcurrency"}

func (h *Handler) showAccountForm(c echo.Context, status int, v accountFormView) error {
	p, err := h.newPage(c, "accountForm.title", "accounts")
	if err != nil {
		return err
	}
	v.page = p
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	v.Platforms = options(accountPlatforms[1:], v.V.Platform, func(s string) string { return "platform." + s })
	v.Types = options(accountTypes, v.V.AccountType, func(s string) string { return "accountType." + s })
	v.Protocols = options(proxyProtocols, v.V.ProxyProtocol, func(s string) string {
		if s == "" {
			return "accountForm.noProxy"
		}
		return "proxy." + s
	})
	return h.render(c, status, "accountform", v)
}

func (h *Handler) accountNewPage(c echo.Context) error {
	v := accountFormValues{Platform: events.PlatformClaudeConsole, Priority: "50", Schedulable: true, Active: true, AccountType: "shared", RateLimitDuration: "60", QuotaResetTime: "00:00"}
	if pl := c.QueryParam("platform"); pl == events.PlatformCodex {
		v.Platform = pl
	}
	return h.showAccountForm(c, http.StatusOK, accountFormView{New: true, V: v})
}

func (h *Handler) accountCreate(c echo.Context) error {
	l := h.locale(c)
	vals, a, errs := readAccountForm(c, l)
	vals.APIKey, vals.ProxyPassword = "", "" // never sent back to the page
	if len(errs) == 0 {
		id, err := h.backend.CreateAccount(c.Request().Context(), AccountInput{Account: a, Fields: allAccountFields, Meta: h.meta(c)})
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/console/accounts/"+url.PathEscape(id)+"?done=created")
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	return h.showAccountForm(c, http.StatusBadRequest, accountFormView{New: true, V: vals, Errors: errs, FormError: accountFormError(errs)})
}

// accountFormError gathers the errors of fields the form does not show.
func accountFormError(errs map[string]string) string {
	var rest []string
	for f, text := range errs {
		if !slices.Contains(allAccountFields, f) {
			if f != "" {
				text = f + ": " + text
			}
			rest = append(rest, text)
		}
	}
	slices.Sort(rest)
	return strings.Join(rest, " ")
}

var accountDone = []string{"created", "saved", "toggle_schedulable", "reset_rate_limit"}

func (h *Handler) accountEditPage(c echo.Context) error {
	d, err := h.backend.Account(c.Request().Context(), c.Param("id"))
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	saved := ""
	if s := c.QueryParam("done"); slices.Contains(accountDone, s) {
		saved = "accountForm.done." + s
	}
	usage, err := h.entityUsage(c.Request().Context(), h.locale(c), "", d.ID)
	if err != nil {
		return h.failed(c, err)
	}
	return h.showAccountForm(c, http.StatusOK, accountFormView{ID: d.ID, AccountVersion: d.Version, V: accountValues(d),
		KeyMask: d.APIKeyMask, HasProxyPassword: d.HasProxyPassword, Saved: saved, Usage: usage})
}

func (h *Handler) accountUpdate(c echo.Context) error {
	l := h.locale(c)
	ctx := c.Request().Context()
	d, err := h.backend.Account(ctx, c.Param("id"))
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	version, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
	vals, a, errs := readAccountForm(c, l)
	a.Platform = d.Account.Platform // fixed at creation
	vals.Platform, vals.APIKey, vals.ProxyPassword = d.Account.Platform, "", ""
	view := accountFormView{ID: d.ID, AccountVersion: version, V: vals, KeyMask: d.APIKeyMask, HasProxyPassword: d.HasProxyPassword}
	if len(errs) == 0 {
		err := h.backend.UpdateAccount(ctx, d.ID, AccountInput{Account: a, Fields: accountFieldsChanged(d.Account, a), Version: version, Meta: h.meta(c)})
		switch {
		case err == nil:
			return c.Redirect(http.StatusSeeOther, "/console/accounts/"+url.PathEscape(d.ID)+"?done=saved")
		case isNotFound(err): // deleted meanwhile
			return h.notFound(c)
		case isConflict(err):
			view.FormError, view.AccountVersion = l.T("accountForm.conflict"), d.Version
			return h.showAccountForm(c, http.StatusConflict, view)
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	view.Errors, view.FormError = errs, accountFormError(errs)
	return h.showAccountForm(c, http.StatusBadRequest, view)
}

func (h *Handler) accountAction(c echo.Context) error {
	action := AccountAction(c.FormValue("action"))
	if !slices.Contains([]AccountAction{AccountDelete, AccountToggleSchedule, AccountResetRateLimit}, action) {
		return h.errorPage(c, http.StatusBadRequest, "error.badRequest")
	}
	id := c.Param("id")
	err := h.backend.ChangeAccount(c.Request().Context(), id, action, h.meta(c))
	refused, isRefusal := invalidFields(err)
	switch {
	case isNotFound(err):
		return h.notFound(c)
	case isRefusal:
		return h.errorDetail(c, http.StatusConflict, "accountForm.refused", refused[0].Message)
	case isConflict(err):
		// The backend's words say why (keys still bound to it).
		msg := ""
		if fe, ok := faultKind(err); ok {
			msg = fe.Message
		}
		return h.errorDetail(c, http.StatusConflict, "accountForm.refused", msg)
	case err != nil:
		return h.failed(c, err)
	}
	if action == AccountDelete {
		return c.Redirect(http.StatusSeeOther, "/console/accounts")
	}
	return c.Redirect(http.StatusSeeOther, "/console/accounts/"+url.PathEscape(id)+"?done="+string(action))
}
