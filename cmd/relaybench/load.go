package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// target is one system under load: where to POST and what to send.
type target struct {
	name   string
	url    string // full URL of the messages endpoint
	apiKey string // sent as x-api-key (ignored by direct and proxy)
}

// cell is one measurement: a system at one concurrency in one mode.
type cell struct {
	stream      bool
	concurrency int
	warmup, dur time.Duration
}

// loadResult is what the closed-loop load generator saw in one cell.
type loadResult struct {
	// ok and errors count requests that completed inside the measured
	// window; errors also counts failures during the warm-up.
	ok, errors int
	errSamples []string
	// lat and ttfb are the ok requests' latencies and times to the first
	// body byte, measured from just before the request is sent.
	lat, ttfb []time.Duration
	window    time.Duration
}

// maxErrSamples bounds the error messages a cell keeps.
const maxErrSamples = 5

// runLoad drives t with c.concurrency workers, each sending its next
// request as soon as the previous answer is read to the end (closed loop),
// for c.warmup plus c.dur. mark is called at the start and the end of the
// measured window (to snapshot CPU time and the like); only requests that
// complete inside the window count.
func runLoad(ctx context.Context, client *http.Client, t target, c cell, bodies *requestBodies, mark func(start bool)) loadResult {
	from := time.Now().Add(c.warmup)
	to := from.Add(c.dur)
	results := make([]loadResult, c.concurrency)
	var wg sync.WaitGroup
	for w := range c.concurrency {
		wg.Go(func() {
			body := bodies.get(w, c.stream)
			h := requestHeader(t.apiKey)
			buf := make([]byte, 32<<10)
			res := &results[w]
			for ctx.Err() == nil {
				if !time.Now().Before(to) {
					return
				}
				lat, ttfb, err := doRequest(ctx, client, t.url, h, body, c.stream, buf)
				end := time.Now()
				inWindow := !end.Before(from) && !end.After(to)
				switch {
				case err != nil:
					res.errors++
					if len(res.errSamples) < maxErrSamples {
						res.errSamples = append(res.errSamples, err.Error())
					}
				case inWindow:
					res.ok++
					res.lat = append(res.lat, lat)
					res.ttfb = append(res.ttfb, ttfb)
				}
			}
		})
	}
	sleepUntil(ctx, from)
	mark(true)
	sleepUntil(ctx, to)
	mark(false)
	wg.Wait()
	out := loadResult{window: c.dur}
	for _, r := range results {
		out.ok += r.ok
		out.errors += r.errors
		out.lat = append(out.lat, r.lat...)
		out.ttfb = append(out.ttfb, r.ttfb...)
		for _, e := range r.errSamples {
			if len(out.errSamples) < maxErrSamples {
				out.errSamples = append(out.errSamples, e)
			}
		}
	}
	return out
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// requestHeader is what Claude Code sends besides its credential.
func requestHeader(apiKey string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14")
	h.Set("User-Agent", "claude-cli/2.0.14 (external, cli)")
	h.Set("X-App", "cli")
	h.Set("X-Api-Key", apiKey)
	return h
}

// doRequest sends one request and reads the answer to its end. For a
// stream, the answer must end with message_stop; otherwise it must be a
// 200.
func doRequest(ctx context.Context, client *http.Client, url string, h http.Header, body []byte, stream bool, buf []byte) (lat, ttfb time.Duration, err error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header = h // the transport only reads it
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var tail []byte
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if ttfb == 0 {
				ttfb = time.Since(start)
			}
			tail = keepTail(tail, buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, 0, fmt.Errorf("read body: %w", rerr)
		}
	}
	lat = time.Since(start)
	switch {
	case resp.StatusCode != http.StatusOK:
		return 0, 0, fmt.Errorf("status %d: %.200s", resp.StatusCode, tail)
	case ttfb == 0:
		return 0, 0, fmt.Errorf("empty body")
	case stream && !bytes.Contains(tail, []byte("message_stop")):
		return 0, 0, fmt.Errorf("stream ended without message_stop: %q", tail)
	}
	return lat, ttfb, nil
}

// keepTail keeps the last 160 bytes read: enough for the terminal event.
func keepTail(tail, p []byte) []byte {
	const keep = 160
	if len(p) >= keep {
		return append(tail[:0], p[len(p)-keep:]...)
	}
	if over := len(tail) + len(p) - keep; over > 0 {
		tail = append(tail[:0], tail[over:]...)
	}
	return append(tail, p...)
}

// requestBodies are the request bodies of the workers: a Claude Code turn
// of about bodyBytes, with a session of its own per worker (so relay binds
// and looks up one sticky session per worker, as with real clients).
type requestBodies struct {
	mu        sync.Mutex // mu protects cache
	cache     map[[2]int][]byte
	bodyBytes int
}

func (b *requestBodies) get(worker int, stream bool) []byte {
	s := 0
	if stream {
		s = 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if body, ok := b.cache[[2]int{worker, s}]; ok {
		return body
	}
	if b.cache == nil {
		b.cache = map[[2]int][]byte{}
	}
	body := claudeCodeBody(worker, stream, b.bodyBytes)
	b.cache[[2]int{worker, s}] = body
	return body
}

func claudeCodeBody(worker int, stream bool, size int) []byte {
	const instructions = "You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user. "
	system := strings.Repeat(instructions, max(1, size*2/3/len(instructions)))
	prompt := strings.Repeat("Please look at the failing test in store/admission_test.go and explain the refusal. ", max(1, size/3/85))
	session := fmt.Sprintf("4f1c2a9e-0b6d-4c1e-9a55-%012d", worker)
	return fmt.Appendf(nil, `{"model":%q,"max_tokens":32000,"stream":%t,`+
		`"metadata":{"user_id":"user_%064x_account__session_%s"},`+
		`"system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude."},{"type":"text","text":%q,"cache_control":{"type":"ephemeral"}}],`+
		`"messages":[{"role":"user","content":[{"type":"text","text":%q,"cache_control":{"type":"ephemeral"}}]}]}`,
		benchModel, stream, worker+1, session, system, prompt)
}
