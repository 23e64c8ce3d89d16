package edge

import (
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"relay/edge/adminapi"
	"relay/edge/console"
	"relay/edge/httpx"
	"relay/edge/relay"
)

// routes is the table of contents of the edge: every route relay answers.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Client addresses (login throttling, logs) come from the connection,
	// or from X-Forwarded-For only when the connection is a trusted proxy.
	e.IPExtractor = httpx.IPExtractor(s.cfg.TrustedProxies)
	e.Use(s.observe)
	e.Use(secureHeaders)
	e.Use(httpx.BodyDeadline(s.cfg.BodyTimeout, s.cfg.BodyMinRate))
	e.Use(middleware.BodyLimit(bodyLimitText(s.cfg.BodyLimit)))

	e.GET("/health", s.health)
	e.GET("/ready", s.readiness)
	e.GET("/metrics", s.mainMetrics())
	e.GET("/openapi.json", adminapi.OpenAPI())
	e.GET("/docs", adminapi.DocsPage)
	e.GET("/docs/*", adminapi.DocsAssets())

	// The web console (DESIGN.md section 8): its own CSP replaces the
	// API's on its routes (console.Handler.Mount).
	e.GET("/", console.RedirectRoot)
	s.console.Mount(e.Group("/console"))

	// The relay: what coding agents call.
	r := s.relay
	e.POST("/api/v1/messages", r.Handler(relay.ClaudeMessages))
	e.POST("/claude/v1/messages", r.Handler(relay.ClaudeMessages))
	e.POST("/api/v1/messages/count_tokens", r.Handler(relay.ClaudeCountTokens))
	e.GET("/api/v1/models", r.Models)
	e.POST("/openai/responses", r.Handler(relay.CodexResponses))
	e.POST("/openai/v1/responses", r.Handler(relay.CodexResponses))
	e.POST("/openai/responses/compact", r.Handler(relay.CodexCompact))
	e.POST("/openai/v1/responses/compact", r.Handler(relay.CodexCompact))
	e.GET("/openai/models", r.OpenAIModels)
	e.GET("/openai/v1/models", r.OpenAIModels)

	// Claude Relay Service's key-holder statistics, in its shape and error
	// dialect, for the tools built on it.
	e.POST("/apiStats/api/user-stats", s.admin.CRSUserStats, httpx.RequireJSON)

	// The key holder's page: a form posting the key, in the console's look.
	s.stats.MountStats(e.Group("/stats"))

	// The admin REST API (DESIGN.md section 4).
	a := s.admin
	v2 := e.Group("/api/v2")
	v2.POST("/auth/admin/login", a.Login, httpx.RequireJSON)
	// The key holder's own usage (DESIGN.md section 8): the API key in the
	// body is the credential, no admin token.
	v2.POST("/key-stats", a.KeyHolderStats, httpx.RequireJSON)
	g := v2.Group("", a.RequireAdmin, httpx.RequireJSON)
	g.RouteNotFound("/*", s.adminNotFound)
	g.GET("/auth/me", a.Me)
	g.POST("/auth/change-password", a.ChangePassword)
	g.GET("/stats/overview", a.StatsOverview)
	g.GET("/stats/usage", a.StatsUsage)
	g.GET("/keys", a.ListKeys)
	g.POST("/keys", a.CreateKey)
	g.GET("/keys/:id", a.GetKey)
	g.PUT("/keys/:id", a.UpdateKey)
	g.DELETE("/keys/:id", a.DeleteKey)
	g.POST("/keys/:id/restore", a.RestoreKey)
	g.GET("/keys/:id/stats", a.KeyStats)
	g.GET("/accounts/:platform", a.ListAccounts)
	g.POST("/accounts/:platform", a.CreateAccount)
	g.GET("/accounts/:platform/:id", a.GetAccount)
	g.PUT("/accounts/:platform/:id", a.UpdateAccount)
	g.DELETE("/accounts/:platform/:id", a.DeleteAccount)
	g.POST("/accounts/:platform/:id/toggle-schedulable", a.ToggleSchedulable)
	g.POST("/accounts/:platform/:id/reset-rate-limit", a.ResetRateLimit)
	g.GET("/accounts/:platform/:id/availability", a.AccountAvailability)
	g.GET("/accounts/:platform/:id/stats", a.AccountStats)
	g.GET("/notifications", a.ListChannels)
	g.POST("/notifications", a.CreateChannel)
	g.GET("/notifications/:id", a.GetChannel)
	g.PUT("/notifications/:id", a.UpdateChannel)
	g.DELETE("/notifications/:id", a.DeleteChannel)
	g.POST("/notifications/:id/test", a.TestChannel)
	g.GET("/notifications/:id/deliveries", a.ChannelDeliveries)
	g.GET("/audit", a.ListAudit)
	g.GET("/usage/export", a.UsageExport)
	g.GET("/usage/live", a.UsageLive)

	s.routePaths = map[string]bool{}
	for _, r := range e.Routes() {
		s.routePaths[r.Path] = true
		if strings.HasPrefix(r.Path, "/api/v2/") && r.Method != echo.RouteNotFound {
			s.adminRoutes = append(s.adminRoutes, adminRoute{method: r.Method, segments: strings.Split(r.Path, "/")})
		}
	}
	return e
}
