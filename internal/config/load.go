package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
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
	cfg := Default()
	bindEnv(v, reflect.TypeOf(cfg), "")

	// Reader entries are decoded by their type (reader.DecodeEntry); the
	// rest of the file straight into Config.
	var raw struct {
		Config  `mapstructure:",squash"`
		Readers []map[string]any `mapstructure:"readers"`
	}
	raw.Config = cfg
	p := &Problems{File: path}
	dec := keyed.Decoder{Unknown: "unknown key (check the spelling; see configs/example.yaml)", Hooks: []mapstructure.DecodeHookFunc{byteSizeHook()}}
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
	cfg.File = path
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
		return nil, p
	}
	return &cfg, nil
}

// bindEnv binds every scalar key outside lists to RFIDGW_<PATH>, so env
// overrides work for keys the file does not mention.
func bindEnv(v *viper.Viper, t reflect.Type, prefix string) {
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
			bindEnv(v, ft, key)
			continue
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			continue // lists of readers/zones are not overridable one key at a time
		}
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		_ = v.BindEnv(key, env)
	}
}
