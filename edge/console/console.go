package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

//go:embed assets
var assetsFS embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles and
// images only, no inline code, no framing, forms posting only to itself.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// Config configures the console.
type Config struct {
	// Secret keys the session cookies and CSRF tokens (at least 32
	// bytes; relay passes a key derived from JWT_SECRET, so rotating it
	// signs everyone out).
	Secret []byte
	// SessionTTL is how long a sign-in lasts (default 12 h).
	SessionTTL time.Duration
	// PublicURL is the URL clients reach relay at, for the lines shown
	// with a new key's secret. Default: the scheme and host of the
	// request.
	PublicURL string
	// Version is the running relay's version, shown in settings.
	Version string
	// Secure reports whether a request came over TLS (the cookies are
	// Secure then). Default: r.TLS != nil.
	Secure func(*http.Request) bool
	// Now is the clock (tests). Default time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
	// KeyHolder answers the key holder's page, /stats (MountStats); nil
	// leaves it unanswered.
	KeyHolder KeyHolder
	// Channels are the notification channel actions (nil: the channels
	// page says notifications are not available).
	Channels Channels
	// UsageReports feeds the Usage page and its CSV download from the
	// USAGE stream (usagelog.Reports over the analyst's connection); nil:
	// the page says the export is off.
	UsageReports UsageReports
}

// Defaults fills what c leaves empty.
func (c Config) Defaults() Config {
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Secure == nil {
		c.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if len(c.Secret) < 32 {
		errs = append(errs, errors.New("console: Secret must be at least 32 bytes"))
	}
	if c.SessionTTL < time.Minute {
		errs = append(errs, errors.New("console: SessionTTL must be at least a minute"))
	}
	return errors.Join(errs...)
}

// Handler serves the console.
type Handler struct {
	cfg     Config
	backend Backend
	keys    keys
	locales map[string]*Locale
	pages   map[string]*template.Template
	static  map[string]staticFile
	// staticPrefix is where the assets are served, with a hash of their
	// content in the path so browsers may cache them for good.
	staticPrefix string
	// liveKeepAlive is how often a live feed sends a comment and checks
	// its session (tests shorten it).
	liveKeepAlive time.Duration
	// closing is closed by Close: open live feeds end.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends every open live feed, so that an HTTP server's graceful
// shutdown does not wait for browsers that keep them open. Pages are still
// served.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closing) })
}

type staticFile struct {
	body        []byte
	contentType string
}

// New builds the console over backend.
func New(cfg Config, backend Backend) (*Handler, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, backend: backend, keys: deriveKeys(cfg.Secret), closing: make(chan struct{}), liveKeepAlive: liveKeepAlive}
	var err error
	if h.locales, err = loadLocales(assetsFS); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(assetsFS); err != nil {
		return nil, err
	}
	if err := h.loadStatic(); err != nil {
		return nil, err
	}
	return h, nil
}

// pageNames are the page templates, each rendered inside layout.html.
var pageNames = []string{"login", "overview", "settings", "keys", "keyform", "secret", "accounts", "accountform", "audit", "error"}

// numField is one number input of the key form (template "num").
type numField struct {
	View                            keyFormView
	Name, Value, Label, Mode, Error string
}

// textField is one text input of the account form (template "text").
type textField struct {
	View                                         accountFormView
	Name, Value, Label, Mode, Placeholder, Error string
}

var templateFuncs = template.FuncMap{
	"afield": func(v accountFormView, name, value, label, mode, placeholder string) textField {
		return textField{View: v, Name: name, Value: value, Label: label, Mode: mode, Placeholder: placeholder, Error: v.Errors[name]}
	},
	"field": func(v keyFormView, name, value, label, mode string) numField {
		return numField{View: v, Name: name, Value: value, Label: label, Mode: mode, Error: v.Errors[name]}
	},
}

func parsePages(assets fs.FS) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func (h *Handler) loadStatic() error {
	h.static = map[string]staticFile{}
	sum := sha256.New()
	err := fs.WalkDir(assetsFS, "assets/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		sum.Write([]byte(name))
		sum.Write(body)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.static[name] = staticFile{body: body, contentType: ct}
		return nil
	})
	if err != nil {
		return err
	}
	h.staticPrefix = "/console/static/" + hex.EncodeToString(sum.Sum(nil))[:12]
	return nil
}

// Mount adds the console's routes to g, a group at /console.
func (h *Handler) Mount(g *echo.Group) {
	g.Use(h.headers)
	g.GET("", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/console/") })
	g.GET("/static/:hash/:name", h.serveStatic)
	g.GET("/login", h.loginPage)
	g.POST("/login", h.login)
	g.POST("/prefs", h.prefs)

	in := g.Group("", h.requireSession)
	in.GET("/", h.overview)
	in.GET("/keys", h.keysPage)
	in.GET("/keys/new", h.keyNewPage)
	in.POST("/keys/new", h.keyCreate)
	in.GET("/keys/:id", h.keyEditPage)
	in.POST("/keys/:id", h.keyUpdate)
	in.POST("/keys/:id/state", h.keyState)
	in.GET("/accounts", h.accountsPage)
	in.GET("/accounts/new", h.accountNewPage)
	in.POST("/accounts/new", h.accountCreate)
	in.GET("/accounts/:id", h.accountEditPage)
	in.POST("/accounts/:id", h.accountUpdate)
	in.POST("/accounts/:id/action", h.accountAction)
	h.mountChannels(in)
	in.GET("/audit", h.auditPage)
	h.mountUsage(in)
	in.GET("/live", h.live)
	in.GET("/settings", h.settings)
	in.POST("/settings/password", h.changePassword)
	in.POST("/logout", h.logout)
	g.RouteNotFound("/*", h.notFound)
}

// RedirectRoot answers GET / with the console.
func RedirectRoot(c echo.Context) error { return c.Redirect(http.StatusFound, "/console/") }

// headers sets what every console answer carries: its CSP (replacing the
// edge's API one), no framing, no caching of pages (they hold usage and
// CSRF tokens), no referrer leaving the site.
func (h *Handler) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		hd.Add("Vary", "Cookie, Accept-Language")
		return next(c)
	}
}

func (h *Handler) serveStatic(c echo.Context) error {
	f, ok := h.static[c.Param("name")]
	if !ok || "/console/static/"+c.Param("hash") != h.staticPrefix {
		return h.notFound(c)
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Del("Vary")
	return c.Blob(http.StatusOK, f.contentType, f.body)
}

// canonicalPath is the GET path of the pages a POST can answer with.
var canonicalPath = map[string]string{"login.title": "/console/login", "settings.title": "/console/settings"}

// page is what the layout needs; every page's view embeds it.
type page struct {
	L       *Locale
	Theme   string // "", "light" or "dark"
	Title   string // catalogue key
	Nav     string // the nav entry to mark current
	Admin   string // who is signed in ("" on the sign-in page)
	CSRF    string
	Static  string
	Here    string // this page's path and query, where preferences return to
	Version string
}

// Asset returns the URL of an embedded asset.
func (p page) Asset(name string) string { return p.Static + "/" + name }

func (h *Handler) locale(c echo.Context) *Locale {
	if v := cookieValue(c, langCookie); v != "" {
		if l, ok := h.locales[v]; ok {
			return l
		}
	}
	return h.locales[negotiate(c.Request().Header.Get("Accept-Language"))]
}

func themeOf(c echo.Context) string {
	switch v := cookieValue(c, themeCookie); v {
	case "light", "dark":
		return v
	}
	return ""
}

// newPage fills the layout's part of a view for c.
func (h *Handler) newPage(c echo.Context, title, nav string) (page, error) {
	p := page{
		L: h.locale(c), Theme: themeOf(c), Title: title, Nav: nav,
		Static: h.staticPrefix, Here: c.Request().URL.RequestURI(), Version: h.cfg.Version,
	}
	if c.Request().Method != http.MethodGet {
		// A form's answer: the preference switches return to the page the
		// form is on, which a GET can show.
		p.Here = canonicalPath[title]
		if p.Here == "" {
			p.Here = "/console/"
		}
	}
	if s, ok := c.Get(ctxSession).(session); ok {
		p.Admin, p.CSRF = s.Username, h.keys.csrfToken(s.ID)
		return p, nil
	}
	tok, err := h.anonCSRF(c)
	p.CSRF = tok
	return p, err
}

// render writes the page named name with view, buffered so a template
// error becomes an error page, never half a page.
func (h *Handler) render(c echo.Context, status int, name string, view any) error {
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, view); err != nil {
		h.cfg.Logger.Error().Err(err).Str("page", name).Msg("console: rendering failed")
		return c.String(http.StatusInternalServerError, "internal error")
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorView is the error page.
type errorView struct {
	page
	Status  int
	Message string // catalogue key
	Detail  string // the backend's own words, when they help (shown as text)
}

func (h *Handler) errorPage(c echo.Context, status int, message string) error {
	return h.errorDetail(c, status, message, "")
}

func (h *Handler) errorDetail(c echo.Context, status int, message, detail string) error {
	p, err := h.newPage(c, "error.title", "")
	if err != nil {
		return err
	}
	return h.render(c, status, "error", errorView{page: p, Status: status, Message: message, Detail: detail})
}

// failed answers a Backend failure: logged, and an error page that says
// relay could not answer, never the error's text.
func (h *Handler) failed(c echo.Context, err error) error {
	h.cfg.Logger.Error().Err(err).Str("path", c.Request().URL.Path).Msg("console: backend failed")
	return h.errorPage(c, http.StatusServiceUnavailable, "error.backend")
}

func (h *Handler) notFound(c echo.Context) error {
	return h.errorPage(c, http.StatusNotFound, "error.notFound")
}

// localPath returns next when it is a console path, else the overview: the
// sign-in and preference forms never send a browser off the console.
func localPath(next string) string {
	if strings.HasPrefix(next, "/console/") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "/console//") {
		return next
	}
	return "/console/"
}
