package appsim

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	WallLimit = time.Minute // a wedge in these small tests shows quickly
	if os.Getenv("APPSIM_WEDGE_STACKS") != "" {
		WallLimit = 15 * time.Second
		WedgeAfter = time.Hour
		Wedged = func(msg string) {
			buf := make([]byte, 8<<20)
			fmt.Fprintln(os.Stderr, msg, string(buf[:runtime.Stack(buf, true)]))
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}
