package clientreq

// ParseOpenAI reads an OpenAI Responses API body: model, stream,
// instructions, prompt_cache_key and the first input item. Validation is the
// same as ParseClaude's; input, tools and the rest are skipped without being
// decoded.
func ParseOpenAI(body []byte) (Request, error) {
	req := Request{API: OpenAI}
	start, err := object(body)
	if err != nil {
		return Request{}, err
	}
	var seen keySet
	err = members(body, start, func(key []byte, s, e int) error {
		v := body[s:e]
		var err error
		switch string(key) {
		case "model":
			if err = seen.once(keyModel, "model"); err == nil {
				req.Model, err = parseModel(v)
			}
		case "stream":
			if err = seen.once(keyStream, "stream"); err == nil {
				req.Stream, err = parseStream(v)
			}
		case "instructions":
			if err = seen.once(keyInstructions, "instructions"); err == nil {
				req.System, _ = unquote(v)
			}
		case "prompt_cache_key":
			if err = seen.once(keyPromptCacheKey, "prompt_cache_key"); err == nil {
				req.PromptCacheKey, _ = unquote(v)
			}
		case "input":
			if err = seen.once(keyInput, "input"); err == nil {
				req.FirstMessage = firstInput(v)
			}
		}
		return err
	})
	if err != nil {
		return Request{}, err
	}
	if seen&keyModel == 0 {
		return Request{}, missingModel()
	}
	return req, nil
}

// firstInput returns the input string itself or the first input item.
func firstInput(v []byte) []byte {
	if v[0] == '"' {
		return v
	}
	return firstElement(v)
}
