package run

import (
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
