package schema

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	statusOnce     sync.Once
	statusCompiled *jsonschema.Schema
	statusErr      error
)

// StatusPath is docs/status.schema.json in this checkout.
func StatusPath() string { return filepath.Join(filepath.Dir(Path()), "status.schema.json") }

// ValidateStatus checks one gateway status JSON value against
// docs/status.schema.json.
func ValidateStatus(value []byte) error {
	statusOnce.Do(func() {
		statusCompiled, statusErr = jsonschema.NewCompiler().Compile(StatusPath())
	})
	if statusErr != nil {
		return fmt.Errorf("status schema: %w", statusErr)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("status is not JSON: %w", err)
	}
	if err := statusCompiled.Validate(v); err != nil {
		return fmt.Errorf("status does not match docs/status.schema.json: %w", err)
	}
	return nil
}
