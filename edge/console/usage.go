package console

import (
	"context"
	"html/template"
)

// The usage of one key or account, shown on its page: a chart of the last
// 30 days, usage by model over them, and its latest requests.

const (
	entityDays     = 30
	entityRequests = 10
)

type usageView struct {
	Chart    template.HTML
	Models   []rankedRow
	Requests []liveRow
	Timezone string
	// Export and More are the key's or account's usage export and Usage
	// page (empty when the export is off).
	Export, More string
}

func (h *Handler) entityUsage(ctx context.Context, l *Locale, keyID, accountID string) (*usageView, error) {
	series, err := h.backend.Series(ctx, SeriesQuery{Granularity: Daily, Buckets: entityDays, KeyID: keyID, AccountID: accountID})
	if err != nil {
		return nil, err
	}
	models, err := h.backend.ModelUsage(ctx, UsageQuery{KeyID: keyID, AccountID: accountID, Days: entityDays})
	if err != nil {
		return nil, err
	}
	recent, err := h.backend.Recent(ctx, RecentQuery{N: entityRequests, KeyID: keyID, AccountID: accountID})
	if err != nil {
		return nil, err
	}
	loc := location(series.Timezone)
	v := &usageView{Chart: renderChart(chartInput{Granularity: series.Granularity, Buckets: series.Buckets, Loc: loc, L: l}), Timezone: loc.String()}
	v.Export, v.More = h.entityUsageLinks(keyID, accountID)
	for _, m := range models {
		v.Models = append(v.Models, ranked(l.Tag, m.Model, "", m.Counters))
	}
	for _, r := range recent {
		v.Requests = append(v.Requests, newLiveRow(l, r, loc))
	}
	return v, nil
}
