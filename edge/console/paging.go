package console

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

const (
	listPageSize  = 50
	maxSearchLen  = 200
	maxPageNumber = 1_000_000
)

// pager is the paging part of a list page's view.
type pager struct {
	Total   string
	PageNo  int
	Pages   int
	First   int
	Last    int
	PrevURL string
	NextURL string
}

// newPager pages total items, count of them on page pageNo, linking to base
// with the list's filters.
func newPager(base string, filters url.Values, pageNo, total, count int) pager {
	p := pager{Total: groupDigits(int64(total)), PageNo: pageNo, Pages: max((total+listPageSize-1)/listPageSize, 1)}
	if count > 0 {
		p.First = (pageNo-1)*listPageSize + 1
		p.Last = p.First + count - 1
	}
	link := func(n int) string {
		vals := url.Values{}
		for k, vs := range filters {
			if len(vs) > 0 && vs[0] != "" {
				vals.Set(k, vs[0])
			}
		}
		if n > 1 {
			vals.Set("page", strconv.Itoa(n))
		}
		if len(vals) == 0 {
			return base
		}
		return base + "?" + vals.Encode()
	}
	if pageNo > 1 {
		p.PrevURL = link(min(pageNo-1, p.Pages))
	}
	if pageNo < p.Pages {
		p.NextURL = link(pageNo + 1)
	}
	return p
}

// pageParam reads the page number; anything but 1..maxPageNumber is 1.
func pageParam(c echo.Context) int {
	if n, err := strconv.Atoi(c.QueryParam("page")); err == nil && n > 0 && n <= maxPageNumber {
		return n
	}
	return 1
}

// searchParam reads a search box, trimmed and bounded.
func searchParam(c echo.Context, name string) string {
	s := strings.TrimSpace(c.QueryParam(name))
	if len(s) > maxSearchLen {
		s = s[:maxSearchLen]
	}
	return s
}

// oneOf returns v when it is one of allowed, else allowed[0].
func oneOf(v string, allowed []string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return allowed[0]
}

// filterOption is one choice of a filter's select.
type filterOption struct {
	Value, Label string // Label: catalogue key
	Selected     bool
}

func options(values []string, selected string, label func(string) string) []filterOption {
	out := make([]filterOption, 0, len(values))
	for _, v := range values {
		out = append(out, filterOption{Value: v, Label: label(v), Selected: v == selected})
	}
	return out
}
