package adminapi

// The OpenAPI description of the key holder's routes (keyholder.go,
// crsstats.go).

func oaKeyHolderSchemas() oaObj {
	usagePart := oaObj{"allOf": []oaObj{oaRef("StatsTotals"), oaObject(oaObj{
		"cacheHitRate": oaNumber("cacheReadTokens / (inputTokens + cacheCreateTokens + cacheReadTokens), four decimals"),
	})}}
	limit := oaObject(oaObj{
		"kind":     oaEnum("checked in this order for cost limits", "totalCost", "dailyCost", "weeklyOpusCost", "windowCost", "windowRequests", "concurrency"),
		"unit":     oaEnum("usd: USD with nine decimals; requests: a count", "usd", "requests"),
		"limit":    oaNumber(""),
		"used":     oaNumber(""),
		"percent":  oaNumber("100 * used / limit, two decimals"),
		"resetsAt": oaNullable(oaTime("when used next goes down: the end of the local day or week, when the oldest request leaves the request window, a minute ahead for the cost window; null for total and concurrency")),
		"reached":  oaBool("a request needing this limit is refused now"),
	}, "kind", "unit", "limit", "used", "resetsAt", "reached")
	return oaObj{
		"KeyStatsInput": oaClosed(oaObject(oaObj{"apiKey": oaString("the relay API key, cr_...")}, "apiKey")),
		"KeyLimit":      limit,
		"KeyStats": oaObject(oaObj{
			"id": oaString(""), "name": oaString(""), "permissions": oaEnum("", "all", "claude", "codex"), "isActive": oaBool(""),
			"expiresAt": oaNullable(oaTime("")), "expirationMode": oaEnum("", "fixed", "activation"),
			"isActivated": oaBool(""), "activatedAt": oaNullable(oaTime("")), "activationDays": oaInt("the activation period, in activationUnit"),
			"activationUnit":   oaEnum("", "days", "hours"),
			"expiresInSeconds": oaNullable(oaInt("countdown to expiresAt; null without an expiry (activation keys before their first request)")),
			"limits":           oaArray(oaRef("KeyLimit"), "every limit set on the key"),
			"nearestLimit":     oaObj{"allOf": []oaObj{oaRef("KeyLimit")}, "nullable": true, "description": "the limit with the largest share used"},
			"limitsTimezone":   oaString("the zone of the daily and weekly limits"),
			"usage":            oaObject(oaObj{"today": usagePart, "month": usagePart, "all": usagePart}),
			"byModel":          oaObj{"type": "object", "additionalProperties": oaRef("StatsTotals"), "description": "all time"},
			"daily":            oaArray(oaObj{"allOf": []oaObj{oaRef("StatsTotals"), oaObject(oaObj{"date": oaString("YYYY-MM-DD")})}}, "the last 30 local days, oldest first"),
			"timezone":         oaString("the zone of the usage days"),
			"firstUsedAt":      oaNullable(oaTime("")), "lastUsedAt": oaNullable(oaTime("")), "at": oaTime("when this was read"),
		}),
		"CRSError": oaObject(oaObj{"error": oaString("e.g. Invalid API key"), "message": oaString("")}, "error", "message"),
		"CRSUserStats": oaObj{"type": "object", "additionalProperties": true,
			"description": "Claude Relay Service's user-stats data: id, name, description, isActive, createdAt, expiresAt, expirationMode, isActivated, activationDays, activatedAt, permissions, usage.total, limits, accounts, restrictions, serviceRates (README names the fields relay fills)"},
	}
}

func oaKeyHolderPaths(add func(method, path string, o oaOp)) {
	tags := []string{"key holders"}
	add("post", "/api/v2/key-stats", oaOp{summary: "The key's own usage and limits, for its holder (the key is the credential; rate limited per address and per key)", tags: tags,
		body: oaRef("KeyStatsInput"), okBody: oaEnvelope(oaRef("KeyStats")), errors: []string{"400", "401", "415", "429"}})
	add("post", "/apiStats/api/user-stats", oaOp{summary: "Claude Relay Service's user-stats, in its shape, for the tools built on it ({apiKey}; {apiId} lookups answer 401)", tags: tags,
		body:   oaObject(oaObj{"apiKey": oaString("the relay API key, cr_..."), "apiId": oaString("refused: an id is no secret")}),
		okBody: oaEnvelope(oaRef("CRSUserStats")), errors: []string{"400", "401", "415", "429"}, dialect: "CRSError"})
}
