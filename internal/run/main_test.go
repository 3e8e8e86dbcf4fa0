package run

import (
	"os"
	"testing"

	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
