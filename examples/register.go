package examples

import (
	"fmt"

	"github.com/eosim/eosim/appsim"
)

// Importing this package registers every example with appsim's registry,
// so that `simrun campaign --app NAME` finds it.
func init() {
	for _, a := range Apps() {
		if err := appsim.Register(a); err != nil {
			panic(fmt.Sprintf("examples: %v", err))
		}
	}
}
