package edge

import (
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes is the table of contents of the edge: every route relay answers.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// Client addresses (login throttling, logs) come from the connection,
	// or from X-Forwarded-For only when the connection is a trusted proxy.
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.Use(s.observe)
	e.Use(secureHeaders)
	e.Use(s.bodyDeadline)
	e.Use(middleware.BodyLimit(bodyLimitText(s.cfg.BodyLimit)))

	e.GET("/health", s.health)
	e.GET("/ready", s.readiness)
	e.GET("/metrics", s.mainMetrics())
	s.docsRoutes(e)

	// The relay: what coding agents call.
	e.POST("/api/v1/messages", s.relay(claudeMessages))
	e.POST("/claude/v1/messages", s.relay(claudeMessages))
	e.POST("/api/v1/messages/count_tokens", s.relay(claudeCountTokens))
	e.GET("/api/v1/models", s.models)
	e.POST("/openai/responses", s.relay(codexResponses))
	e.POST("/openai/v1/responses", s.relay(codexResponses))
	e.POST("/openai/responses/compact", s.relay(codexCompact))
	e.POST("/openai/v1/responses/compact", s.relay(codexCompact))
	e.GET("/openai/models", s.openaiModels)
	e.GET("/openai/v1/models", s.openaiModels)

	v2 := e.Group("/api/v2")
	v2.POST("/auth/admin/login", s.login, requireJSON)
	admin := v2.Group("", s.requireAdmin, requireJSON)
	admin.RouteNotFound("/*", s.adminNotFound)
	admin.GET("/auth/me", s.me)
	admin.POST("/auth/change-password", s.changePassword)
	s.statsRoutes(admin)
	s.keyRoutes(admin)
	s.accountRoutes(admin)
	s.auditRoutes(admin)

	s.routePaths = map[string]bool{}
	for _, r := range e.Routes() {
		s.routePaths[r.Path] = true
		if strings.HasPrefix(r.Path, "/api/v2/") && r.Method != echo.RouteNotFound {
			s.adminRoutes = append(s.adminRoutes, adminRoute{method: r.Method, segments: strings.Split(r.Path, "/")})
		}
	}
	return e
}
