package config

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/reader"
)

// docKey is one row of a table in docs/config.md.
type docKey struct {
	def  string // the default cell without backticks; "—" for none
	line int
}

// readDocKeys returns the keys of docs/config.md's tables: rows whose first
// cell is a key in backticks.
func readDocKeys(t *testing.T) map[string]docKey {
	t.Helper()
	f, err := os.Open("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]docKey{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, " | ")
		if len(cells) < 4 {
			t.Errorf("docs/config.md:%d: a key row needs | key | type | default | meaning |", n)
			continue
		}
		key := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		if prev, dup := keys[key]; dup {
			t.Errorf("docs/config.md:%d: %s is already listed on line %d", n, key, prev.line)
		}
		keys[key] = docKey{def: strings.Trim(cells[2], "`"), line: n}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// structKeys lists the key paths of a config struct type, following the
// mapstructure tags the loader decodes with: nested structs and lists of
// structs give "parent.key" and "list[].key"; maps are leaves; a squashed
// struct adds its keys to its parent.
func structKeys(t reflect.Type, prefix string, out map[string]reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "squash" {
			structKeys(f.Type, prefix, out)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		out[key] = f.Type
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}):
			structKeys(ft, key+".", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			structKeys(ft.Elem(), key+"[].", out)
		}
	}
}

// readerCommonKeys are the keys every readers[] entry has (decoded by
// reader.DecodeEntry before the type's own settings).
var readerCommonKeys = map[string]reflect.Type{
	"readers[].id":       reflect.TypeOf(""),
	"readers[].type":     reflect.TypeOf(""),
	"readers[].antennas": reflect.TypeOf([]int{}),
	"readers[].provides": reflect.TypeOf([]string{}),
}

// configKeys is every key the config file accepts: those of the Config
// struct, and for readers[] the common keys plus the keys of every
// registered reader type's settings struct.
func configKeys() map[string]reflect.Type {
	keys := map[string]reflect.Type{"readers": reflect.TypeOf([]any{})}
	structKeys(reflect.TypeOf(Config{}), "", keys)
	for k, ty := range readerCommonKeys {
		keys[k] = ty
	}
	for _, name := range reader.Types() {
		t, _ := reader.Lookup(name)
		structKeys(reflect.TypeOf(t.Settings()), "readers[].", keys)
	}
	return keys
}

// yamlKeys lists the key paths set in a YAML file (list entries as "[]").
func yamlKeys(t *testing.T, path string) []string {
	t.Helper()
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		switch x := x.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				keys = append(keys, strings.TrimSuffix(prefix, "."))
			}
			for k, v := range x {
				walk(prefix+k+".", v)
			}
		case []any:
			name := strings.TrimSuffix(prefix, ".")
			for _, e := range x {
				if _, ok := e.(map[string]any); !ok {
					keys = append(keys, name) // a list of values
					continue
				}
				walk(name+"[].", e)
			}
		default:
			keys = append(keys, strings.TrimSuffix(prefix, "."))
		}
	}
	walk("", v.AllSettings())
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestDocsListEveryKey: docs/config.md has a row for every key of the config
// structs and of configs/example.yaml, and no row for a key that does not
// exist.
func TestDocsListEveryKey(t *testing.T) {
	doc := readDocKeys(t)
	keys := configKeys()
	var missing []string
	for k, ty := range keys {
		if ty.Kind() == reflect.Struct {
			continue // a section (gateway, uplink.kafka): its keys have the rows
		}
		if _, ok := doc[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("docs/config.md does not list %s (a key of the config structs)", k)
	}
	for k, d := range doc {
		if _, ok := keys[k]; !ok {
			t.Errorf("docs/config.md:%d lists %s, which is no key of the config structs", d.line, k)
		}
	}
	for _, k := range yamlKeys(t, "../../configs/example.yaml") {
		if _, ok := keysUnderLeaf(keys, k); !ok {
			t.Errorf("configs/example.yaml sets %s, which is no key of the config structs", k)
		}
		if _, ok := doc[k]; !ok {
			if leaf, _ := keysUnderLeaf(keys, k); leaf == k {
				t.Errorf("docs/config.md does not list %s (set in configs/example.yaml)", k)
			}
		}
	}
}

// keysUnderLeaf maps a key from a YAML file to the struct key that holds it:
// itself, or the map-typed key it is under (uplink.kafka.librdkafka.x).
func keysUnderLeaf(keys map[string]reflect.Type, k string) (string, bool) {
	for p := k; p != ""; {
		if ty, ok := keys[p]; ok && (p == k || ty.Kind() == reflect.Map) {
			return p, true
		}
		i := strings.LastIndex(p, ".")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return "", false
}

// TestDocsDefaults: the default column of docs/config.md says what
// Default() holds, for every key outside readers[] (reader defaults are the
// reader types' own).
func TestDocsDefaults(t *testing.T) {
	doc := readDocKeys(t)
	def := Default()
	checked := 0
	for key, d := range doc {
		if strings.HasPrefix(key, "readers") || strings.HasPrefix(key, "zones[]") {
			continue // TestDocsReaderDefaults; zones take edge's
		}
		v, ok := valueAt(reflect.ValueOf(def), strings.Split(key, "."))
		if !ok {
			continue // the listing test reports it
		}
		want := "—"
		if !v.IsZero() {
			want = formatDefault(v)
		}
		got := d.def
		if want != "—" && got != "—" {
			got = normalise(t, v, got)
		}
		if got != want {
			t.Errorf("docs/config.md:%d: %s default %q, the code's is %q", d.line, key, d.def, want)
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d defaults checked", checked)
	}
}

// TestDocsReaderDefaults: where a reader type's settings struct holds a
// default, docs/config.md's default column says it. (A default computed at
// run time, such as the MQTT client id, is the page's to explain.)
func TestDocsReaderDefaults(t *testing.T) {
	doc := readDocKeys(t)
	checked := 0
	for _, name := range reader.Types() {
		typ, _ := reader.Lookup(name)
		settings := reflect.ValueOf(typ.Settings())
		for key, d := range doc {
			rest, ok := strings.CutPrefix(key, "readers[].")
			if !ok {
				continue
			}
			v, ok := valueAt(settings, strings.Split(rest, "."))
			if !ok || v.IsZero() {
				continue
			}
			for v.Kind() == reflect.Pointer {
				v = v.Elem()
			}
			want := formatDefault(v)
			if got := normalise(t, v, d.def); got != want {
				t.Errorf("docs/config.md:%d: %s default %q, type %s's is %q", d.line, key, d.def, name, want)
			}
			checked++
		}
	}
	if checked < 4 {
		t.Fatalf("only %d reader defaults checked", checked)
	}
}

func valueAt(v reflect.Value, path []string) (reflect.Value, bool) {
	for _, name := range path {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return v, false
		}
		found := false
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
			if tag == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return v, false
		}
	}
	return v, true
}

func formatDefault(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case ByteSize:
		return x.String()
	}
	return fmt.Sprint(v.Interface())
}

// normalise turns the doc's spelling of a default into the code's (60s ->
// 1m0s, 2GiB stays), so the page can use the friendlier form.
func normalise(t *testing.T, v reflect.Value, s string) string {
	switch v.Interface().(type) {
	case time.Duration:
		if d, err := time.ParseDuration(s); err == nil {
			return d.String()
		}
	case ByteSize:
		if b, err := ParseByteSize(s); err == nil {
			return b.String()
		}
	case float64:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return fmt.Sprint(f)
		}
	}
	return s
}

// TestGatewayIDPatternDocumented: the one gateway-id rule (buffer's) is the
// one docs/config.md, configs/example.yaml and docs/event.schema.json state.
func TestGatewayIDPatternDocumented(t *testing.T) {
	for _, f := range []struct{ path, want string }{
		{"../../docs/config.md", "`" + buffer.GatewayIDPattern + "`"},
		{"../../configs/example.yaml", buffer.GatewayIDPattern},
		{"../../docs/event.schema.json", `"gateway": {"type": "string", "pattern": "^` + buffer.GatewayIDPattern + `$"}`},
		{"../../docs/event.schema.json", `"pattern": "^` + buffer.GatewayIDPattern + `-([0-9a-f]{16}-)?[1-9][0-9]*$"`},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), f.want) {
			t.Errorf("%s does not state the gateway id pattern as %s", f.path, f.want)
		}
	}
}
