package adminapi

import (
	"encoding/json"
	"net/http"
	"relay/edge/admin"
	"relay/events"
	"relay/events/notify"
	"relay/store"
	"strconv"

	"github.com/labstack/echo/v4"
)

// The OpenAPI 3 description of every route of DESIGN.md section 4, built in
// Go so that the shapes shared by many routes (the admin envelope, errors,
// paging, the key and account fields) are written once. A test walks the
// router and fails when a registered route is missing here.

// OpenAPI serves the spec, marshalled once when the routes are built.
func OpenAPI() echo.HandlerFunc {
	b, err := json.MarshalIndent(openAPISpec(), "", "  ")
	if err != nil {
		panic("edge: the openapi spec does not marshal: " + err.Error()) // a programming error, caught by every test
	}
	return func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSONCharsetUTF8, b)
	}
}

// oaObj is a JSON object of the spec.
type oaObj = map[string]any

func oaRef(name string) oaObj { return oaObj{"$ref": "#/components/schemas/" + name} }

func oaString(desc string) oaObj { return oaObj{"type": "string", "description": desc} }
func oaBool(desc string) oaObj   { return oaObj{"type": "boolean", "description": desc} }
func oaInt(desc string) oaObj    { return oaObj{"type": "integer", "description": desc} }
func oaNumber(desc string) oaObj { return oaObj{"type": "number", "description": desc} }
func oaEnum(desc string, v ...string) oaObj {
	return oaObj{"type": "string", "enum": v, "description": desc}
}
func oaArray(items oaObj, desc string) oaObj {
	return oaObj{"type": "array", "items": items, "description": desc}
}
func oaTime(desc string) oaObj {
	return oaObj{"type": "string", "format": "date-time", "description": desc}
}
func oaNullable(o oaObj) oaObj {
	out := oaObj{"nullable": true}
	for k, v := range o {
		out[k] = v
	}
	return out
}
func oaBounded(o oaObj, lo, hi any) oaObj {
	if lo != nil {
		o["minimum"] = lo
	}
	if hi != nil {
		o["maximum"] = hi
	}
	return o
}
func oaObject(props oaObj, required ...string) oaObj {
	o := oaObj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
func oaClosed(o oaObj) oaObj { o["additionalProperties"] = false; return o }
func oaMerge(parts ...oaObj) oaObj {
	out := oaObj{}
	for _, p := range parts {
		for k, v := range p {
			out[k] = v
		}
	}
	return out
}

// keyWritable are the fields an admin sets on a key.
func oaKeyWritable() oaObj {
	return oaObj{
		"name":                    oaObj{"type": "string", "minLength": 1, "maxLength": admin.MaxNameLen},
		"description":             oaObj{"type": "string", "maxLength": admin.MaxDescriptionLen},
		"permissions":             oaEnum("platforms the key may use", admin.KeyPermAll, admin.KeyPermClaude, admin.KeyPermCodex),
		"isActive":                oaBool("a disabled key is refused"),
		"expirationMode":          oaEnum("fixed: expires at expiresAt; activation: expires activationDays after first use", admin.KeyExpiryFixed, admin.KeyExpiryActivation),
		"expiresAt":               oaNullable(oaTime("RFC 3339; null: never (fixed mode); must be null in activation mode")),
		"activationDays":          oaBounded(oaInt("activation mode: lifetime after first use, in activationUnit"), 0, admin.MaxActivationDays),
		"activationUnit":          oaEnum("unit of activationDays", admin.KeyUnitHours, admin.KeyUnitDays),
		"claudeConsoleAccountId":  oaNullable(oaString("dedicated claude-console account (must exist)")),
		"codexAccountId":          oaNullable(oaString("dedicated codex account (must exist)")),
		"enableModelRestriction":  oaBool(""),
		"restrictedModels":        oaArray(oaObj{"type": "string"}, ""),
		"enableClientRestriction": oaBool(""),
		"allowedClients":          oaArray(oaEnum("", admin.KeyClientClaudeCode, admin.KeyClientCodexCLI), ""),
		"concurrencyLimit":        oaBounded(oaInt("0 = unlimited"), 0, nil),
		"rateLimitWindow":         oaBounded(oaInt("minutes; required when rateLimitRequests or rateLimitCost is set"), 0, admin.MaxRateLimitWindow),
		"rateLimitRequests":       oaBounded(oaInt("requests per window; 0 = unlimited"), 0, nil),
		"rateLimitCost":           oaBounded(oaNumber("USD per window; 0 = unlimited"), 0, nil),
		"dailyCostLimit":          oaBounded(oaNumber("USD per day; 0 = unlimited"), 0, nil),
		"totalCostLimit":          oaBounded(oaNumber("USD over the key's life; 0 = unlimited"), 0, nil),
		"weeklyOpusCostLimit":     oaBounded(oaNumber("USD per week on Opus models; 0 = unlimited"), 0, nil),
		"tags":                    oaArray(oaObj{"type": "string", "maxLength": admin.MaxTagLen}, ""),
	}
}

// oaChannelWritable are the fields an admin sets on a notification channel.
func oaChannelWritable() oaObj {
	return oaObj{
		"name": oaObj{"type": "string", "minLength": 1, "maxLength": notify.MaxNameLen},
		"type": oaEnum("the service and its message format", events.ChannelTypes...),
		"url": oaObj{"type": "string", "format": "uri", "maxLength": notify.MaxURLLen, "writeOnly": true,
			"description": "absolute http(s) URL; sealed at once, answers show a mask; loopback, link-local and private addresses are refused unless NOTIFY_ALLOW_PRIVATE=true; telegram: https://api.telegram.org/bot<token>/sendMessage?chat_id=<chat>; required again when the type changes"},
		"secret": oaObj{"type": "string", "maxLength": notify.MaxSecretLen, "writeOnly": true, "nullable": true,
			"description": "signing secret: required for webhook (HMAC-SHA256 of X-Relay-Timestamp.body), optional for feishu and dingtalk, refused for the others; \"\" or null removes it; omit to keep it"},
		"events":          oaArray(oaEnum("", events.NotifyTypes...), "notification types the channel receives (a test is always sent)"),
		"enabled":         oaBool("default true; a disabled channel receives tests only"),
		"cooldownSeconds": oaBounded(oaInt("one message per subject and type per cooldown; 0: the default, 600"), 0, notify.MaxCooldownSec),
	}
}

// accountWritable are the fields an admin sets on an account.
func oaAccountWritable() oaObj {
	return oaObj{
		"name":              oaObj{"type": "string", "minLength": 1, "maxLength": admin.MaxNameLen},
		"description":       oaObj{"type": "string", "maxLength": admin.MaxDescriptionLen},
		"apiUrl":            oaObj{"type": "string", "format": "uri", "description": "absolute http(s) base URL, e.g. https://api.anthropic.com"},
		"apiKey":            oaObj{"type": "string", "writeOnly": true, "description": "upstream credential; sealed at once, answers show a mask; omit in an update to keep it"},
		"userAgent":         oaString("User-Agent sent upstream; empty: the client's"),
		"supportedModels":   oaObj{"description": `{"requested": "upstream"} map, or a list of names mapped to themselves; empty = all models`, "oneOf": []oaObj{{"type": "object", "additionalProperties": oaObj{"type": "string"}}, {"type": "array", "items": oaObj{"type": "string"}}}},
		"priority":          oaBounded(oaInt("lower is preferred; default 50"), 1, 100),
		"schedulable":       oaBool("default true"),
		"isActive":          oaBool("default true"),
		"accountType":       oaEnum("default shared", admin.AccountShared, admin.AccountDedicated),
		"proxy":             oaNullable(oaRef("ProxyInput")),
		"rateLimitDuration": oaBounded(oaInt("minutes an upstream 429 parks the account without reset headers; default 60"), 1, admin.MaxRateLimitMins),
		"dailyQuota":        oaBounded(oaNumber("USD per day; 0 = none"), 0, nil),
		"quotaResetTime":    oaObj{"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:mm; default 00:00"},
		"maxConcurrency":    oaBounded(oaInt("0 = unlimited"), 0, nil),
	}
}

func oaSchemas() oaObj {
	keyRead := oaObj{
		"id":          oaString("sortable id"),
		"isDeleted":   oaBool(""),
		"deletedAt":   oaNullable(oaTime("")),
		"isActivated": oaBool("in force: always for fixed expiry; for activation mode, once first used"),
		"activatedAt": oaNullable(oaTime("")),
		"createdAt":   oaTime(""),
		"updatedAt":   oaTime(""),
		"lastUsedAt":  oaNullable(oaTime("")),
		"version":     oaInt("the ETag; send in If-Match to update safely"),
	}
	accountProps := oaAccountWritable()
	accountProps["apiKey"] = oaString("mask of the upstream credential, e.g. sk-ant-...a9c")
	accountProps["supportedModels"] = oaObj{"type": "object", "additionalProperties": oaObj{"type": "string"}}
	accountProps["proxy"] = oaNullable(oaRef("Proxy"))
	accountRead := oaObj{
		"id":          oaString(""),
		"platform":    oaEnum("", admin.AccountPlatforms...),
		"status":      oaEnum("derived from the account's health", "active", "rate_limited", "overloaded", "unauthorized", "blocked", "quota_exceeded", "error"),
		"statusUntil": oaNullable(oaTime("when the status ends by itself")),
		"isDeleted":   oaBool(""),
		"deletedAt":   oaNullable(oaTime("")),
		"createdAt":   oaTime(""),
		"updatedAt":   oaTime(""),
		"lastUsedAt":  oaNullable(oaTime("")),
		"version":     oaInt("the ETag; send in If-Match to update safely"),
	}
	channelProps := oaChannelWritable()
	delete(channelProps, "secret")
	channelProps["url"] = oaString("mask of the URL: scheme, host and the last 4 characters of the rest (the URL is a credential for most services)")
	channelRead := oaObj{
		"id":        oaString(""),
		"hasSecret": oaBool("whether a signing secret is set (it is never shown)"),
		"isDeleted": oaBool(""),
		"deletedAt": oaNullable(oaTime("")),
		"createdAt": oaTime(""),
		"updatedAt": oaTime(""),
		"version":   oaInt("the ETag; send in If-Match to update safely"),
	}
	totals := oaObject(oaObj{
		"requests": oaInt("requests that reached an upstream"), "refused": oaInt("requests refused"),
		"inputTokens": oaInt(""), "outputTokens": oaInt(""), "cacheCreateTokens": oaInt(""), "cacheReadTokens": oaInt(""),
		"cost": oaNumber("USD"),
	})
	return oaObj{
		"Error": oaObject(oaObj{
			"success": oaObj{"type": "boolean", "enum": []bool{false}},
			"error": oaObject(oaObj{
				"code":    oaEnum("", "validation_error", "unauthorized", "forbidden", "not_found", "conflict", "rate_limited", "payload_too_large", "unavailable", "timeout", "internal_error"),
				"message": oaString(""),
				"field":   oaString("the invalid field, for validation errors"),
			}, "code", "message"),
		}, "success", "error"),
		"AnthropicError": oaObject(oaObj{"type": oaEnum("", "error"), "error": oaObject(oaObj{
			"type":    oaEnum("", "authentication_error", "permission_error", "rate_limit_error", "invalid_request_error", "overloaded_error", "api_error", "not_found_error", "request_too_large"),
			"message": oaString(""),
		})}),
		"OpenAIError": oaObject(oaObj{"error": oaObject(oaObj{"message": oaString(""), "type": oaString(""), "code": oaString("")})}),
		"KeyCreate":   oaClosed(oaObject(oaKeyWritable(), "name")),
		"KeyUpdate":   oaClosed(oaObject(oaKeyWritable())),
		"Key":         oaObject(oaMerge(oaKeyWritable(), keyRead)),
		"KeyWithSecret": oaObj{"allOf": []oaObj{oaRef("Key"), oaObject(oaObj{
			"key": oaString("the secret, cr_ + 64 hex; shown only in this answer"),
		}, "key")}},
		"KeyList":       oaList(oaRef("Key")),
		"ProxyInput":    oaClosed(oaObject(oaObj{"protocol": oaEnum("", admin.ProxyProtocols...), "host": oaString(""), "port": oaBounded(oaInt(""), 1, 65535), "auth": oaNullable(oaClosed(oaObject(oaObj{"username": oaString(""), "password": oaObj{"type": "string", "writeOnly": true, "description": "omit to keep the current one"}, "hasPassword": oaBool("false without password removes it")})))}, "protocol", "host", "port")),
		"Proxy":         oaObject(oaObj{"protocol": oaEnum("", admin.ProxyProtocols...), "host": oaString(""), "port": oaInt(""), "auth": oaNullable(oaObject(oaObj{"username": oaString(""), "hasPassword": oaBool("")}))}),
		"AccountCreate": oaClosed(oaObject(oaAccountWritable(), "name", "apiUrl", "apiKey")),
		"AccountUpdate": oaClosed(oaObject(oaAccountWritable())),
		"Account":       oaObject(oaMerge(accountProps, accountRead)),
		"AccountList":   oaList(oaRef("Account")),
		"Availability": oaObject(oaObj{
			"available": oaBool(""),
			"reasons":   oaArray(oaObj{"type": "string"}, "every reason it cannot be scheduled now: deleted, inactive, unschedulable, rate limited|overloaded|unauthorized until T, at max concurrency"),
			"inFlight":  oaInt("requests holding a lease on the account"),
		}, "available", "reasons"),
		"ChannelCreate": oaClosed(oaObject(oaChannelWritable(), "name", "type", "url")),
		"ChannelUpdate": oaClosed(oaObject(oaChannelWritable())),
		"Channel":       oaObject(oaMerge(channelProps, channelRead)),
		"ChannelList":   oaList(oaRef("Channel")),
		"ChannelTest": oaObject(oaObj{
			"deliveryId": oaString("the X-Relay-Delivery of the message sent, and the id of its records in the deliveries"),
			"channelId":  oaString(""),
		}),
		"Delivery": oaObject(oaObj{
			"id": oaString("delivery id (X-Relay-Delivery), the same on every attempt"), "type": oaString("notification type"),
			"time": oaTime("when the attempt ended"), "attempt": oaInt("1 for the first"), "statusCode": oaInt("the receiver's HTTP status; 0: none"),
			"outcome":    oaEnum("", store.DeliveryDelivered, store.DeliveryRetrying, store.DeliveryFailed, store.DeliverySkipped),
			"error":      oaString("why the attempt failed or was skipped (never the URL or secret)"),
			"durationMs": oaInt(""),
		}),
		"AuditEntry": oaObject(oaObj{
			"seq": oaInt("CONFIG stream sequence"), "id": oaString("event id"), "type": oaString("event type, e.g. key.updated"),
			"time": oaTime(""), "actor": oaString("admin username"), "requestId": oaString(""),
			"entity": oaObject(oaObj{"kind": oaEnum("", auditKinds...), "id": oaString("")}),
			"data":   oaObj{"type": "object", "description": "the event payload without secrets"},
		}),
		"AuditList":   oaList(oaRef("AuditEntry")),
		"LoginInput":  oaClosed(oaObject(oaObj{"username": oaString(""), "password": oaString("")}, "username", "password")),
		"Login":       oaObject(oaObj{"token": oaString("JWT"), "expiresAt": oaTime(""), "user": oaObject(oaObj{"username": oaString("")})}),
		"Me":          oaObject(oaObj{"username": oaString(""), "createdAt": oaTime(""), "passwordChangedAt": oaTime("")}),
		"PasswordIn":  oaClosed(oaObject(oaObj{"currentPassword": oaString(""), "newPassword": oaObj{"type": "string", "minLength": minPassword, "maxLength": maxPassword}}, "currentPassword", "newPassword")),
		"StatsTotals": totals,
		"Stats": oaObject(oaObj{
			"total":   oaRef("StatsTotals"),
			"daily":   oaArray(oaObj{"allOf": []oaObj{oaRef("StatsTotals"), oaObject(oaObj{"date": oaString("YYYY-MM-DD")})}}, ""),
			"byModel": oaObj{"type": "object", "additionalProperties": oaRef("StatsTotals")},
		}),
		"ClaudeMessagesRequest": oaObj{"type": "object", "additionalProperties": true, "required": []string{"model", "messages"}, "properties": oaObj{
			"model": oaString(""), "messages": oaArray(oaObj{"type": "object"}, ""), "system": oaObj{"description": "string or content blocks"},
			"max_tokens": oaInt(""), "stream": oaBool(""), "metadata": oaObj{"type": "object"}, "tools": oaArray(oaObj{"type": "object"}, ""),
		}, "description": "Anthropic Messages API request, passed through"},
		"ClaudeMessage":     oaObj{"type": "object", "additionalProperties": true, "description": "Anthropic message, or an SSE stream (text/event-stream) when stream is true"},
		"CountTokensResult": oaObject(oaObj{"input_tokens": oaInt("")}),
		"ModelList": oaObject(oaObj{
			"data":     oaArray(oaObject(oaObj{"id": oaString(""), "type": oaString(""), "display_name": oaString(""), "created_at": oaTime("")}), ""),
			"has_more": oaBool(""), "first_id": oaString(""), "last_id": oaString(""),
		}),
		"ResponsesRequest": oaObj{"type": "object", "additionalProperties": true, "required": []string{"model"}, "properties": oaObj{
			"model": oaString(""), "input": oaObj{"description": "string or input items"}, "stream": oaBool(""), "prompt_cache_key": oaString(""),
		}, "description": "OpenAI Responses API request, passed through"},
		"Response": oaObj{"type": "object", "additionalProperties": true, "description": "OpenAI response, or an SSE stream when stream is true"},
		"CompactRequest": oaObj{"type": "object", "additionalProperties": true, "required": []string{"model"}, "properties": oaObj{
			"model": oaString(""), "input": oaObj{"description": "string or input items: the history to compact"}, "instructions": oaString(""), "prompt_cache_key": oaString(""),
		}, "description": "OpenAI compaction request, passed through byte for byte (relay adds no field)"},
		"CompactedResponse": oaObj{"type": "object", "additionalProperties": true, "properties": oaObj{
			"id": oaString(""), "object": oaString("response.compaction"), "created_at": oaInt("Unix seconds"),
			"output": oaArray(oaObj{"type": "object", "additionalProperties": true}, "the items that replace the conversation"),
			"usage":  oaObj{"type": "object", "additionalProperties": true, "description": "the compaction's own usage, priced like any request"},
		}, "description": "OpenAI compacted response, passed through"},
		"OpenAIModelList": oaObject(oaObj{
			"object": oaString("list"),
			"data":   oaArray(oaObject(oaObj{"id": oaString(""), "object": oaString("model"), "created": oaInt("Unix seconds (0: unknown)"), "owned_by": oaString("")}), ""),
		}),
		"Health": oaObject(oaObj{"status": oaString("ok")}),
		"Ready":  oaObject(oaObj{"status": oaEnum("", "ready", "not ready"), "checks": oaObj{"type": "object", "additionalProperties": oaObj{"type": "string"}}}),
	}
}

func oaList(item oaObj) oaObj {
	return oaObject(oaObj{"items": oaArray(item, ""), "total": oaInt("matching items"), "page": oaInt(""), "pageSize": oaInt("")})
}

// envelope is the admin success shape around data.
func oaEnvelope(data oaObj) oaObj {
	return oaObject(oaObj{"success": oaObj{"type": "boolean", "enum": []bool{true}}, "data": data}, "success", "data")
}

func oaJSONBody(schema oaObj) oaObj {
	return oaObj{"content": oaObj{"application/json": oaObj{"schema": schema}}}
}

func oaParam(name, in, desc string, schema oaObj, required bool) oaObj {
	return oaObj{"name": name, "in": in, "description": desc, "schema": schema, "required": required}
}

var (
	oaPathID       = oaParam("id", "path", "", oaObj{"type": "string"}, true)
	oaPathPlatform = oaParam("platform", "path", "unknown platforms answer 404", oaEnum("", admin.AccountPlatforms...), true)
	oaIfMatch      = oaParam("If-Match", "header", "the version (ETag) the change is based on; a stale one answers 409", oaObj{"type": "string"}, false)
	oaListParams   = []oaObj{
		oaParam("page", "query", "from 1", oaObj{"type": "integer", "minimum": 1, "default": 1}, false),
		oaParam("pageSize", "query", "", oaObj{"type": "integer", "minimum": 1, "maximum": maxPageSize, "default": defaultPageSize}, false),
		oaParam("search", "query", "case-insensitive substring of name, description or tags", oaObj{"type": "string"}, false),
		oaParam("includeDeleted", "query", "", oaObj{"type": "boolean", "default": false}, false),
	}
	oaRangeParam = oaParam("range", "query", "", oaEnum("", "today", "7d", "30d", "all"), false)
)

// oaOp describes one operation.
type oaOp struct {
	summary  string
	tags     []string
	params   []oaObj
	body     oaObj
	okStatus string
	okBody   oaObj  // JSON schema of the success body
	okType   string // content type when not JSON
	etag     bool   // the answer carries the entity's version as ETag
	auth     string // "admin", "relay" or ""
	errors   []string
	dialect  string // error schema name
}

func (o oaOp) build() oaObj {
	out := oaObj{"summary": o.summary, "tags": o.tags}
	if len(o.params) > 0 {
		out["parameters"] = o.params
	}
	if o.body != nil {
		out["requestBody"] = oaMerge(oaJSONBody(o.body), oaObj{"required": true})
	}
	status := o.okStatus
	if status == "" {
		status = "200"
	}
	ok := oaObj{"description": "success"}
	switch {
	case o.okType != "":
		ok["content"] = oaObj{o.okType: oaObj{"schema": oaObj{"type": "string"}}}
	case o.okBody != nil:
		ok["content"] = oaObj{"application/json": oaObj{"schema": o.okBody}}
	}
	if o.etag {
		ok["headers"] = oaObj{"ETag": oaObj{"description": "the entity's version, for If-Match", "schema": oaObj{"type": "string"}}}
	}
	responses := oaObj{status: ok}
	errSchema := o.dialect
	if errSchema == "" {
		errSchema = "Error"
	}
	for _, code := range o.errors {
		responses[code] = oaMerge(oaJSONBody(oaRef(errSchema)), oaObj{"description": http.StatusText(httpStatusOf(code))})
	}
	out["responses"] = responses
	switch o.auth {
	case "admin":
		out["security"] = []oaObj{{"adminToken": []string{}}}
	case "relay":
		out["security"] = []oaObj{{"relayKey": []string{}}, {"relayBearer": []string{}}}
	}
	return out
}

func httpStatusOf(code string) int {
	n, _ := strconv.Atoi(code)
	return n
}

func oaWith(ps []oaObj, more ...oaObj) []oaObj { return append(append([]oaObj{}, ps...), more...) }

// openAPISpec is the spec: DESIGN.md section 4, route by route.
func openAPISpec() oaObj {
	paths := oaObj{}
	add := func(method, path string, o oaOp) {
		p, _ := paths[path].(oaObj)
		if p == nil {
			p = oaObj{}
			paths[path] = p
		}
		p[method] = o.build()
	}
	adminErrs := []string{"400", "401"}
	entityErrs := []string{"400", "401", "404", "409"}
	admin := func(o oaOp) oaOp {
		o.auth = "admin"
		if o.errors == nil {
			o.errors = adminErrs
		}
		return o
	}

	// Relay routes: the upstream APIs' own shapes, passed through.
	claude := func(summary string, body, okBody oaObj) oaOp {
		return oaOp{summary: summary, tags: []string{"relay (Claude)"}, body: body, okBody: okBody, auth: "relay", dialect: "AnthropicError",
			errors: []string{"400", "401", "403", "413", "429", "503"}}
	}
	add("post", "/api/v1/messages", claude("Relay a Claude Messages request (ANTHROPIC_BASE_URL=http://HOST:PORT/api)", oaRef("ClaudeMessagesRequest"), oaRef("ClaudeMessage")))
	add("post", "/claude/v1/messages", claude("Alias of /api/v1/messages", oaRef("ClaudeMessagesRequest"), oaRef("ClaudeMessage")))
	add("post", "/api/v1/messages/count_tokens", claude("Count the input tokens of a Messages request", oaRef("ClaudeMessagesRequest"), oaRef("CountTokensResult")))
	models := claude("Models the key may use", nil, oaRef("ModelList"))
	add("get", "/api/v1/models", models)
	codex := func(summary string) oaOp {
		return oaOp{summary: summary, tags: []string{"relay (Codex)"}, body: oaRef("ResponsesRequest"), okBody: oaRef("Response"), auth: "relay", dialect: "OpenAIError",
			errors: []string{"400", "401", "403", "413", "429", "503"}}
	}
	add("post", "/openai/responses", codex("Relay an OpenAI Responses request (Codex base_url=http://HOST:PORT/openai)"))
	add("post", "/openai/v1/responses", codex("Alias of /openai/responses"))
	compact := codex("Relay a compaction (OpenAI's POST /responses/compact) to the session's account; a JSON answer whose usage is recorded")
	compact.body, compact.okBody = oaRef("CompactRequest"), oaRef("CompactedResponse")
	add("post", "/openai/responses/compact", compact)
	compact.summary = "Alias of /openai/responses/compact"
	add("post", "/openai/v1/responses/compact", compact)
	openaiModels := oaOp{summary: "Models the key may use on the Codex accounts it reaches, in OpenAI's list shape", tags: []string{"relay (Codex)"},
		okBody: oaRef("OpenAIModelList"), auth: "relay", dialect: "OpenAIError", errors: []string{"401", "403"}}
	add("get", "/openai/models", openaiModels)
	openaiModels.summary = "Alias of /openai/models"
	add("get", "/openai/v1/models", openaiModels)

	// Admin authentication.
	add("post", "/api/v2/auth/admin/login", oaOp{summary: "Log in; the token authenticates every other admin route", tags: []string{"auth"},
		body: oaRef("LoginInput"), okBody: oaEnvelope(oaRef("Login")), errors: []string{"400", "401", "429"}})
	add("get", "/api/v2/auth/me", admin(oaOp{summary: "The admin the token belongs to", tags: []string{"auth"}, okBody: oaEnvelope(oaRef("Me"))}))
	add("post", "/api/v2/auth/change-password", admin(oaOp{summary: "Change the password; earlier tokens stop working and a new one is returned", tags: []string{"auth"},
		body: oaRef("PasswordIn"), okBody: oaEnvelope(oaRef("Login"))}))

	// API keys.
	keyTags := []string{"keys"}
	add("get", "/api/v2/keys", admin(oaOp{summary: "List keys, newest first", tags: keyTags, params: oaListParams, okBody: oaEnvelope(oaRef("KeyList"))}))
	add("post", "/api/v2/keys", admin(oaOp{summary: "Create a key; the answer holds its secret, shown this once", tags: keyTags,
		body: oaRef("KeyCreate"), okStatus: "201", okBody: oaEnvelope(oaRef("KeyWithSecret"))}))
	add("get", "/api/v2/keys/{id}", admin(oaOp{summary: "Read a key (ETag: its version)", tags: keyTags, params: []oaObj{oaPathID}, okBody: oaEnvelope(oaRef("Key")), etag: true, errors: entityErrs}))
	add("put", "/api/v2/keys/{id}", admin(oaOp{summary: "Change the fields sent, and only those", tags: keyTags, params: []oaObj{oaPathID, oaIfMatch},
		body: oaRef("KeyUpdate"), okBody: oaEnvelope(oaRef("Key")), etag: true, errors: entityErrs}))
	add("delete", "/api/v2/keys/{id}", admin(oaOp{summary: "Soft-delete a key: it stops working at once", tags: keyTags, params: []oaObj{oaPathID, oaIfMatch},
		okBody: oaEnvelope(oaRef("Key")), etag: true, errors: entityErrs}))
	add("post", "/api/v2/keys/{id}/restore", admin(oaOp{summary: "Restore a deleted key", tags: keyTags, params: []oaObj{oaPathID, oaIfMatch},
		okBody: oaEnvelope(oaRef("Key")), etag: true, errors: entityErrs}))
	add("get", "/api/v2/keys/{id}/stats", admin(oaOp{summary: "Usage statistics of a key", tags: []string{"stats"}, params: []oaObj{oaPathID, oaRangeParam},
		okBody: oaEnvelope(oaRef("Stats")), errors: entityErrs}))

	// Upstream accounts.
	acctTags := []string{"accounts"}
	one := []oaObj{oaPathPlatform, oaPathID}
	add("get", "/api/v2/accounts/{platform}", admin(oaOp{summary: "List a platform's accounts, newest first", tags: acctTags,
		params: oaWith(oaListParams, oaPathPlatform), okBody: oaEnvelope(oaRef("AccountList")), errors: []string{"400", "401", "404"}}))
	add("post", "/api/v2/accounts/{platform}", admin(oaOp{summary: "Add an upstream account", tags: acctTags, params: []oaObj{oaPathPlatform},
		body: oaRef("AccountCreate"), okStatus: "201", okBody: oaEnvelope(oaRef("Account")), etag: true, errors: []string{"400", "401", "404"}}))
	add("get", "/api/v2/accounts/{platform}/{id}", admin(oaOp{summary: "Read an account (ETag: its version)", tags: acctTags, params: one,
		okBody: oaEnvelope(oaRef("Account")), etag: true, errors: entityErrs}))
	add("put", "/api/v2/accounts/{platform}/{id}", admin(oaOp{summary: "Change the fields sent; without apiKey the key is kept", tags: acctTags,
		params: oaWith(one, oaIfMatch), body: oaRef("AccountUpdate"), okBody: oaEnvelope(oaRef("Account")), etag: true, errors: entityErrs}))
	add("delete", "/api/v2/accounts/{platform}/{id}", admin(oaOp{summary: "Delete an account (409 while live keys have it as their dedicated account)", tags: acctTags, params: oaWith(one, oaIfMatch),
		okBody: oaEnvelope(oaRef("Account")), etag: true, errors: entityErrs}))
	add("post", "/api/v2/accounts/{platform}/{id}/toggle-schedulable", admin(oaOp{summary: "Flip schedulable", tags: acctTags, params: oaWith(one, oaIfMatch),
		okBody: oaEnvelope(oaRef("Account")), etag: true, errors: entityErrs}))
	add("post", "/api/v2/accounts/{platform}/{id}/reset-rate-limit", admin(oaOp{summary: "End the account's rate-limited, overloaded or unauthorized state now", tags: acctTags,
		params: one, okBody: oaEnvelope(oaRef("Account")), etag: true, errors: entityErrs}))
	add("get", "/api/v2/accounts/{platform}/{id}/availability", admin(oaOp{summary: "Whether the scheduler may pick the account now, and why not", tags: acctTags,
		params: one, okBody: oaEnvelope(oaRef("Availability")), errors: entityErrs}))
	add("get", "/api/v2/accounts/{platform}/{id}/stats", admin(oaOp{summary: "Usage statistics of an account", tags: []string{"stats"}, params: oaWith(one, oaRangeParam),
		okBody: oaEnvelope(oaRef("Stats")), errors: entityErrs}))

	// Notification channels (DESIGN.md section 9).
	notifTags := []string{"notifications"}
	add("get", "/api/v2/notifications", admin(oaOp{summary: "List notification channels, newest first", tags: notifTags, params: oaListParams, okBody: oaEnvelope(oaRef("ChannelList"))}))
	add("post", "/api/v2/notifications", admin(oaOp{summary: "Add a notification channel; its URL and secret are sealed at once and never shown", tags: notifTags,
		body: oaRef("ChannelCreate"), okStatus: "201", okBody: oaEnvelope(oaRef("Channel")), etag: true}))
	add("get", "/api/v2/notifications/{id}", admin(oaOp{summary: "Read a channel (ETag: its version)", tags: notifTags, params: []oaObj{oaPathID},
		okBody: oaEnvelope(oaRef("Channel")), etag: true, errors: entityErrs}))
	add("put", "/api/v2/notifications/{id}", admin(oaOp{summary: "Change the fields sent; without url or secret they are kept", tags: notifTags, params: []oaObj{oaPathID, oaIfMatch},
		body: oaRef("ChannelUpdate"), okBody: oaEnvelope(oaRef("Channel")), etag: true, errors: entityErrs}))
	add("delete", "/api/v2/notifications/{id}", admin(oaOp{summary: "Delete a channel: nothing more is sent to it", tags: notifTags, params: []oaObj{oaPathID, oaIfMatch},
		okBody: oaEnvelope(oaRef("Channel")), etag: true, errors: entityErrs}))
	add("post", "/api/v2/notifications/{id}/test", admin(oaOp{summary: "Queue a test message (enabled or not, no cooldown; one per channel every 2 s, else 429); its outcome shows in the deliveries", tags: notifTags,
		params: []oaObj{oaPathID}, okStatus: "202", okBody: oaEnvelope(oaRef("ChannelTest")), errors: []string{"400", "401", "404", "409", "429"}}))
	add("get", "/api/v2/notifications/{id}/deliveries", admin(oaOp{summary: "The channel's newest delivery attempts, newest first (the log keeps 200)", tags: notifTags,
		params: []oaObj{oaPathID, oaParam("limit", "query", "how many, 1 to 200 (default 50)", oaBounded(oaInt(""), 1, store.MaxDeliveryLog), false)},
		okBody: oaEnvelope(oaObject(oaObj{"items": oaArray(oaRef("Delivery"), "")})), errors: []string{"400", "401", "404"}}))

	// Statistics and audit.
	add("get", "/api/v2/stats/overview", admin(oaOp{summary: "Totals across keys and accounts", tags: []string{"stats"},
		okBody: oaEnvelope(oaObj{"type": "object", "additionalProperties": true})}))
	add("get", "/api/v2/stats/usage", admin(oaOp{summary: "Usage over time, grouped", tags: []string{"stats"}, params: []oaObj{
		oaParam("groupBy", "query", "", oaEnum("", "day", "hour", "key", "account", "model"), false),
		oaParam("from", "query", "RFC 3339", oaObj{"type": "string", "format": "date-time"}, false),
		oaParam("to", "query", "RFC 3339", oaObj{"type": "string", "format": "date-time"}, false),
		oaParam("keyId", "query", "", oaObj{"type": "string"}, false),
		oaParam("accountId", "query", "", oaObj{"type": "string"}, false),
		oaParam("model", "query", "", oaObj{"type": "string"}, false),
	}, okBody: oaEnvelope(oaRef("Stats"))}))
	add("get", "/api/v2/audit", admin(oaOp{summary: "Configuration changes, newest first (the CONFIG stream)", tags: []string{"audit"}, params: []oaObj{
		oaListParams[0], oaListParams[1],
		oaParam("entity", "query", "key, account, admin or notification, optionally with :id (key:0191...)", oaObj{"type": "string"}, false),
		oaParam("type", "query", "event type", oaEnum("", configEventTypes...), false),
	}, okBody: oaEnvelope(oaRef("AuditList"))}))

	oaKeyHolderPaths(add)

	// Operations and documentation.
	ops := []string{"operations"}
	add("get", "/health", oaOp{summary: "Liveness", tags: ops, okBody: oaRef("Health")})
	add("get", "/ready", oaOp{summary: "Readiness: NATS, Redis, catalog, projections (503 when not ready)", tags: ops, okBody: oaRef("Ready")})
	add("get", "/metrics", oaOp{summary: "Prometheus metrics", tags: ops, okType: "text/plain"})
	add("get", "/openapi.json", oaOp{summary: "This document", tags: ops, okBody: oaObj{"type": "object"}})
	add("get", "/docs", oaOp{summary: "Interactive API documentation (Swagger UI)", tags: ops, okType: "text/html"})
	add("get", "/docs/{path}", oaOp{summary: "Swagger UI assets", tags: ops, params: []oaObj{oaParam("path", "path", "", oaObj{"type": "string"}, true)},
		okType: "application/octet-stream", errors: []string{"404"}})

	return oaObj{
		"openapi": "3.0.3",
		"info": oaObj{
			"title":       "relay",
			"version":     "2",
			"description": "AI API gateway: Claude Code and Codex CLI call relay with relay API keys; admins manage keys and upstream accounts. Admin answers are {success, data} or {success: false, error: {code, message, field}}.",
		},
		"paths": paths,
		"components": oaObj{
			"schemas": oaMerge(oaSchemas(), oaKeyHolderSchemas()),
			"securitySchemes": oaObj{
				"adminToken":  oaObj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "from POST /api/v2/auth/admin/login"},
				"relayKey":    oaObj{"type": "apiKey", "in": "header", "name": "x-api-key", "description": "a relay API key, cr_..."},
				"relayBearer": oaObj{"type": "http", "scheme": "bearer", "description": "a relay API key, cr_..."},
			},
		},
	}
}
