// Package schema owns the check of produced events against the published
// JSON Schema (docs/event.schema.json), so tests everywhere validate what the
// hub will receive against what docs/events.md promises.
package schema

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once     sync.Once
	compiled *jsonschema.Schema
	loadErr  error
)

// Path is docs/event.schema.json in this checkout.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "event.schema.json")
}

// ValidateEvent checks one event JSON value against the schema.
func ValidateEvent(value []byte) error {
	once.Do(func() {
		c := jsonschema.NewCompiler()
		compiled, loadErr = c.Compile(Path())
	})
	if loadErr != nil {
		return fmt.Errorf("event schema: %w", loadErr)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	if err := compiled.Validate(v); err != nil {
		return fmt.Errorf("event does not match docs/event.schema.json: %w", err)
	}
	return nil
}
