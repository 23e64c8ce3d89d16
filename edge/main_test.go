package edge_test

import (
	"testing"

	"relay/store/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
