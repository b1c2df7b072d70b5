package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// EnvPrefix prefixes every environment override, e.g. RFIDGW_UPLINK_KAFKA_BROKERS.
const EnvPrefix = "RFIDGW"

// Problems is a list of config problems, one key path each. It is returned
// by Load and Validate; its Error lists them one per line as
// "file: key.path: what is wrong".
type Problems struct {
	File  string
	Items []*keyed.Error
}

func (p *Problems) Error() string {
	var b strings.Builder
	for i, it := range p.Items {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.File != "" {
			b.WriteString(p.File)
			if it.Line > 0 {
				b.WriteString(":" + strconv.Itoa(it.Line))
			}
			b.WriteString(": ")
		}
		b.WriteString(it.Error())
	}
	return b.String()
}

func (p *Problems) add(key, format string, args ...any) {
	p.Items = append(p.Items, &keyed.Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Add appends problems: *keyed.Error as they are, anything else (a
// joined error, lines of "key: message") one per line.
func (p *Problems) Add(errs ...error) {
	for _, err := range errs {
		for _, e := range keyed.Lines(err) {
			p.Items = append(p.Items, e.(*keyed.Error))
		}
	}
}

// has reports whether a problem with key is listed.
func (p *Problems) has(key string) bool {
	for _, it := range p.Items {
		if it.Key == key {
			return true
		}
	}
	return false
}

// ErrConfig is wrapped by every error that means "the config is bad" (exit 2).
var ErrConfig = errors.New("bad config")

// Unwrap lets errors.Is(err, ErrConfig) hold for Problems.
func (p *Problems) Unwrap() error { return ErrConfig }

// Load reads the YAML file, applies RFIDGW_ environment overrides, decodes
// strictly into a Config holding the defaults, and fills per-reader defaults.
// It does not validate; call Validate. A decode problem (unknown key, wrong
// type, bad duration or size) is returned as *Problems with key paths.
func Load(path string) (*Config, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, &Problems{File: path, Items: []*keyed.Error{{Msg: fmt.Sprintf("cannot read config: %v", pe.Err)}}}
		}
		return nil, &Problems{File: path, Items: []*keyed.Error{{Msg: fmt.Sprintf("not valid YAML: %v", err)}}}
	}
	data, _ := os.ReadFile(path) // viper just read it
	return decode(v, path, data)
}

// LoadYAML is Load for a config that is not a file of its own (the local
// file with remotely pushed sections); name stands for the file in problems
// and in Config.File.
func LoadYAML(name string, data []byte) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &Problems{File: name, Items: []*keyed.Error{{Msg: fmt.Sprintf("not valid YAML: %v", err)}}}
	}
	// No line numbers: the composed text is neither the local file nor
	// the pushed one.
	return decode(v, name, nil)
}

// decode is Load after the YAML (data, for line numbers) was read.
func decode(v *viper.Viper, path string, data []byte) (*Config, error) {
	cfg := Default()
	envNames := bindEnv(v, reflect.TypeOf(cfg), "")
	lines := indexYAML(data)

	// Reader entries are decoded by their type (reader.DecodeEntry); the
	// rest of the file straight into Config.
	var raw struct {
		Config  `mapstructure:",squash"`
		Readers []map[string]any `mapstructure:"readers"`
	}
	raw.Config = cfg
	p := &Problems{File: path}
	dec := keyed.Decoder{Unknown: unknownKey, Hooks: []mapstructure.DecodeHookFunc{byteSizeHook()}}
	err := v.UnmarshalExact(&raw, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(byteSizeHook(), keyed.DurationHook(), mapstructure.StringToSliceHookFunc(","))
		dc.ErrorUnused = true
	})
	if err != nil {
		p.Add(dec.Problems(err)...)
	}
	cfg = raw.Config
	for i, entry := range raw.Readers {
		rc, errs := reader.DecodeEntry(entry, dec)
		p.Add(keyed.In(fmt.Sprintf("readers[%d]", i), errs)...)
		cfg.Readers = append(cfg.Readers, rc)
	}
	// A misspelt RFIDGW_ variable would be ignored: say so.
	env := unknownEnv(os.Environ(), envNames, envSections(reflect.TypeOf(Config{})))
	for _, name := range sortedKeys(env) {
		msg := "unknown environment variable: no config key reads it"
		if mean := env[name]; mean != "" {
			msg += "; did you mean " + mean + "?"
		}
		p.Items = append(p.Items, &keyed.Error{Key: name, Msg: msg})
	}
	cfg.File = path
	cfg.lines = lines
	readerTypes := map[int]string{}
	for i, entry := range raw.Readers {
		if t, ok := entry["type"].(string); ok {
			readerTypes[i] = t
		}
	}
	cfg.readerTypes = readerTypes
	if len(p.Items) > 0 {
		// Validate what did decode too, so one run lists every problem; skip
		// keys whose value already failed to decode.
		if verr := cfg.Validate(ScopeEdge); verr != nil {
			for _, it := range verr.(*Problems).Items {
				if !p.has(it.Key) {
					p.Items = append(p.Items, it)
				}
			}
		}
		cfg.annotate(p)
		return nil, p
	}
	return &cfg, nil
}

// unknownKey is the decoders' message for a key no struct has; annotate
// completes it with a "did you mean" and where the example is.
const unknownKey = "unknown key"

// annotate adds what helps fix each problem: the line of its key in the
// file, and for an unknown key the closest valid key and where the
// annotated example config is.
func (c *Config) annotate(p *Problems) {
	for _, it := range p.Items {
		if it.Line == 0 && it.Key != "" && !strings.HasPrefix(it.Key, EnvPrefix+"_") {
			it.Line = c.lines.line(it.Key)
		}
		if !strings.HasPrefix(it.Msg, unknownKey) || strings.Contains(it.Msg, "(every key is in") {
			continue
		}
		last := it.Key
		if i := strings.LastIndexAny(last, ".]"); i >= 0 {
			last = last[i+1:]
		}
		var cands []string
		if i, ok := readerIndex(it.Key); ok && strings.Count(it.Key, ".") == 1 {
			cands = readerKeys(c.readerTypes[i])
		} else {
			cands = keysAt(reflect.TypeOf(Config{}), it.Key)
		}
		if mean := suggest(last, cands); mean != "" {
			it.Msg += "; did you mean " + mean + "?"
		}
		it.Msg += " (every key is in " + exampleConfig() + ")"
	}
}

var readerKeyRe = regexp.MustCompile(`^readers\[(\d+)\]\.`)

// readerIndex returns i of a "readers[i].key" path.
func readerIndex(key string) (int, bool) {
	m := readerKeyRe.FindStringSubmatch(key)
	if m == nil {
		return 0, false
	}
	i, err := strconv.Atoi(m[1])
	return i, err == nil
}

// readerKeys lists the keys a reader entry of type t takes: the shared
// ones and its type's settings.
func readerKeys(t string) []string {
	keys := []string{"id", "type", "antennas"}
	rt, ok := reader.Lookup(t)
	if !ok {
		return keys
	}
	if rt.Provides {
		keys = append(keys, "provides")
	}
	return append(keys, tagsOf(deref(reflect.TypeOf(rt.Settings())))...)
}

// bindEnv binds every scalar key outside lists to RFIDGW_<PATH>, so env
// overrides work for keys the file does not mention, and returns the
// variables' names.
func bindEnv(v *viper.Viper, t reflect.Type, prefix string) (names []string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "-" || tag == "" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft.String() != "time.Duration" {
			names = append(names, bindEnv(v, ft, key)...)
			continue
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			continue // lists of readers/zones are not overridable one key at a time
		}
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		_ = v.BindEnv(key, env)
		names = append(names, env)
	}
	return names
}
