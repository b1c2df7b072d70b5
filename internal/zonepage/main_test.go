package zonepage

import (
	"os"
	"testing"

	"github.com/rfidgw/rfidgw/internal/zonepage/zonepagetest"
)

// The browser tests share one Chromium (a tab each); stop it at the end.
func TestMain(m *testing.M) { os.Exit(zonepagetest.Main(m)) }
