package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment override, e.g. RFIDGW_UPLINK_KAFKA_BROKERS.
const EnvPrefix = "RFIDGW"

// Problems is a list of config problems, each "key.path: what is wrong".
// It is returned by Load and Validate; its Error lists them one per line.
type Problems struct {
	File  string
	Items []string
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
		b.WriteString(it)
	}
	return b.String()
}

func (p *Problems) add(format string, args ...any) {
	p.Items = append(p.Items, fmt.Sprintf(format, args...))
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
			return nil, &Problems{File: path, Items: []string{fmt.Sprintf("cannot read config: %v", pe.Err)}}
		}
		return nil, &Problems{File: path, Items: []string{fmt.Sprintf("not valid YAML: %v", err)}}
	}
	cfg := Default()
	bindEnv(v, reflect.TypeOf(cfg), "")

	fileSpeed := fileReadersWithSpeed(v)
	var md mapstructure.Metadata
	err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			byteSizeHook(),
			durationHook(),
			mapstructure.StringToSliceHookFunc(","),
		)
		dc.Metadata = &md
		dc.ErrorUnused = true
	})
	for i := range cfg.Readers {
		readerDefaults(&cfg.Readers[i])
		if cfg.Readers[i].Type == "file" && !fileSpeed[i] {
			cfg.Readers[i].Speed = 1
		}
	}
	cfg.File = path
	if err != nil {
		// Validate what did decode too, so one run lists every problem; skip
		// keys whose value already failed to decode.
		items := decodeProblems(err)
		if verr := cfg.Validate(ScopeEdge); verr != nil {
			for _, it := range verr.(*Problems).Items {
				key, _, _ := strings.Cut(it, ":")
				dup := false
				for _, d := range items {
					if strings.HasPrefix(d, key+":") {
						dup = true
					}
				}
				if !dup {
					items = append(items, it)
				}
			}
		}
		return nil, &Problems{File: path, Items: items}
	}
	return &cfg, nil
}

func durationHook() mapstructure.DecodeHookFuncType {
	target := reflect.TypeOf(time.Duration(0))
	return func(from, to reflect.Type, data any) (any, error) {
		if to != target {
			return data, nil
		}
		if s, ok := data.(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("invalid duration %q (use e.g. 500ms, 5s, 2m)", s)
			}
			return d, nil
		}
		return data, nil
	}
}

// fileReadersWithSpeed tells which reader entries set `speed` explicitly,
// because 0 ("as fast as possible") differs from "not given" (recorded pace).
func fileReadersWithSpeed(v *viper.Viper) map[int]bool {
	out := map[int]bool{}
	list, _ := v.Get("readers").([]any)
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			if _, ok := m["speed"]; ok {
				out[i] = true
			}
		}
	}
	return out
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

var (
	invalidKeysRe = regexp.MustCompile(`'([^']*)' has invalid keys: (.*)$`)
	quotedKeyRe   = regexp.MustCompile(`^'([^']*)' (.*)$`)
)

// decodeProblems turns mapstructure's joined errors into "key.path: problem" lines.
func decodeProblems(err error) []string {
	var lines []string
	for _, raw := range strings.Split(err.Error(), "\n") {
		line := strings.TrimSpace(raw)
		line = strings.TrimPrefix(line, "* ")
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		if m := invalidKeysRe.FindStringSubmatch(line); m != nil {
			for _, k := range strings.Split(m[2], ",") {
				k = strings.TrimSpace(k)
				path := k
				if m[1] != "" && !strings.HasPrefix(k, m[1]) {
					path = m[1] + "." + k
				}
				lines = append(lines, fmt.Sprintf("%s: unknown key (check the spelling; see configs/example.yaml)", path))
			}
			continue
		}
		if m := quotedKeyRe.FindStringSubmatch(line); m != nil {
			lines = append(lines, fmt.Sprintf("%s: %s", m[1], m[2]))
			continue
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	return lines
}
