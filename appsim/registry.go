package appsim

import (
	"fmt"
	"slices"
	"sync"

	"github.com/eosim/eosim/app"
)

// The registry names the apps `simrun campaign --app NAME` can run. Example
// packages call Register from an init function (or list their apps for the
// CLI to register).
var registry struct {
	mu   sync.Mutex
	apps map[string]app.App
}

// Register adds a to the registry. A second app with the same name, or an
// app whose declaration is invalid, is an error.
func Register(a app.App) error {
	if err := a.Validate(); err != nil {
		return err
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.apps == nil {
		registry.apps = map[string]app.App{}
	}
	if _, dup := registry.apps[a.Name]; dup {
		return fmt.Errorf("appsim: app %q is registered twice", a.Name)
	}
	registry.apps[a.Name] = a
	return nil
}

// Lookup returns the registered app called name.
func Lookup(name string) (app.App, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	a, ok := registry.apps[name]
	return a, ok
}

// Registered returns the names of the registered apps, sorted.
func Registered() []string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	names := make([]string, 0, len(registry.apps))
	for n := range registry.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
