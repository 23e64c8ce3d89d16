package adminapi

import (
	"math"
	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Paging of admin lists (DESIGN.md section 4): page from 1, pageSize 20 by
// default and at most 100.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxSearch       = 200
)

// pageQuery is the common query of admin lists.
type pageQuery struct {
	Page, PageSize int
	Search         string
	IncludeDeleted bool
}

// offset is the number of items before the page.
func (q pageQuery) offset() int { return (q.Page - 1) * q.PageSize }

// list is the page as an admin list query.
func (q pageQuery) list() admin.ListQuery {
	return admin.ListQuery{Offset: q.offset(), Limit: q.PageSize, Search: q.Search, IncludeDeleted: q.IncludeDeleted}
}

// parsePage reads page, pageSize, search and includeDeleted.
func parsePage(c echo.Context) (pageQuery, error) {
	q := pageQuery{Page: 1, PageSize: defaultPageSize}
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > math.MaxInt32/maxPageSize {
			return q, fault.InvalidField("page", "page must be a positive integer")
		}
		q.Page = n
	}
	if v := c.QueryParam("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return q, fault.InvalidField("pageSize", "pageSize must be an integer from 1 to 100")
		}
		q.PageSize = n
	}
	q.Search = strings.TrimSpace(c.QueryParam("search"))
	if utf8.RuneCountInString(q.Search) > maxSearch {
		return q, fault.InvalidField("search", "search must be at most 200 characters")
	}
	if v := c.QueryParam("includeDeleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return q, fault.InvalidField("includeDeleted", "includeDeleted must be true or false")
		}
		q.IncludeDeleted = b
	}
	return q, nil
}

// listData is the data of a list answer.
func listData[T any](items []T, total int, q pageQuery) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"items": items, "total": total, "page": q.Page, "pageSize": q.PageSize}
}

// Versions. An entity's version is the stream sequence of the last event
// about it, which is also the subject sequence an update must expect: GET
// shows it as the ETag and the version field, and a write may send it back
// in If-Match so that a change made by another admin since the read answers
// 409 instead of being overwritten.

// setETag sends the version of the entity in the answer.
func setETag(c echo.Context, seq uint64) {
	c.Response().Header().Set("ETag", `"`+strconv.FormatUint(seq, 10)+`"`)
}

// ifMatch returns the version a write must expect from If-Match, or nil
// when none is sent: then the action expects the version it reads, which
// still guards against a change between that read and the publish.
func ifMatch(c echo.Context) (*uint64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return nil, fault.InvalidField("If-Match", `If-Match must be an entity version such as "42" (its ETag)`)
	}
	return &n, nil
}

// actor is the admin making the request, for the audit trail.
func actor(c echo.Context) admin.Actor {
	return admin.Actor{Username: currentAdmin(c).Username, RequestID: httpx.RequestID(c)}
}
