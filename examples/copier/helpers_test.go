package copier_test

import (
	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/examples/copier"
)

func copierApps() []app.App { return []app.App{copier.App()} }
