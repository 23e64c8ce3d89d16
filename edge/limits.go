package edge

import "strconv"

// bodyLimitText renders a byte count the way Echo's BodyLimit takes it.
func bodyLimitText(n int64) string { return strconv.FormatInt(n, 10) + "B" }
