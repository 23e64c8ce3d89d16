package adminapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	swaggerfiles "github.com/swaggo/files/v2"
)

// The interactive API documentation: Swagger UI, whose assets are embedded
// in the binary by github.com/swaggo/files/v2 (nothing is fetched at run
// time), pointed at /openapi.json.

// DocsAssets serves the Swagger UI's files under /docs/. The page's own
// initializer is a file (the page's CSP allows no inline script); the
// module's (which points at the petstore) is not served.
func DocsAssets() echo.HandlerFunc {
	assets := echo.StaticDirectoryHandler(swaggerfiles.FS, true)
	return func(c echo.Context) error {
		switch c.Param("*") {
		case "", "index.html", "swagger-initializer.js":
			return c.Redirect(http.StatusFound, "/docs")
		case docsInitFile:
			return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", []byte(docsInit))
		}
		return assets(c)
	}
}

const docsHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>relay API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/` + docsInitFile + `"></script>
</body>
</html>
`

const docsInitFile = "relay-init.js"

const docsInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
`

// DocsPage is the Swagger UI page, pointed at /openapi.json.
func DocsPage(c echo.Context) error { return c.HTML(http.StatusOK, docsHTML) }
