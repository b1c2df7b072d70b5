package mqtt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	q := func(n int) *int { return &n }
	base := reader.Config{ID: "r", Type: reader.TypeMQTT, Settings: &Settings{Broker: "tcp://127.0.0.1:1883", Topic: "a/+/b", Format: FormatImpinj}}
	cases := []struct {
		name string
		edit func(c *reader.Config)
		want string
	}{
		{"no id", func(c *reader.Config) { c.ID = "" }, "id: missing"},
		{"type", func(c *reader.Config) { c.Type = "llrp" }, "type"},
		{"no broker", func(c *reader.Config) { settingsIn(c).Broker = "" }, "readers[r].broker"},
		{"scheme", func(c *reader.Config) { settingsIn(c).Broker = "http://x:1" }, `scheme "http"`},
		{"tls on tcp", func(c *reader.Config) { settingsIn(c).TLS = &reader.TLS{} }, "use ssl://"},
		{"ca missing", func(c *reader.Config) {
			settingsIn(c).Broker = "ssl://x"
			settingsIn(c).TLS = &reader.TLS{CA: filepath.Join(dir, "nope.pem")}
		}, "nope.pem"},
		{"cert without key", func(c *reader.Config) { settingsIn(c).Broker = "ssl://x"; settingsIn(c).TLS = &reader.TLS{Cert: "a"} }, "give both"},
		{"no topic", func(c *reader.Config) { settingsIn(c).Topic = "" }, "readers[r].topic: missing"},
		{"hash not last", func(c *reader.Config) { settingsIn(c).Topic = "a/#/b" }, "must be the last"},
		{"partial plus", func(c *reader.Config) { settingsIn(c).Topic = "a/b+/c" }, "whole level"},
		{"status same", func(c *reader.Config) { settingsIn(c).StatusTopic = settingsIn(c).Topic }, "status_topic"},
		{"qos", func(c *reader.Config) { settingsIn(c).QoS = q(3) }, "qos: 3"},
		{"level fixed", func(c *reader.Config) { settingsIn(c).ReaderFromTopic = 1 }, `fixed "a"`},
		{"level beyond", func(c *reader.Config) { settingsIn(c).ReaderFromTopic = 4 }, "only 3 levels"},
		{"provides alone", func(c *reader.Config) { c.Provides = []string{"x"} }, "provides"},
		{"password file", func(c *reader.Config) {
			settingsIn(c).Username = "u"
			settingsIn(c).PasswordFile = filepath.Join(dir, "pw")
		}, "password_file"},
		{"format", func(c *reader.Config) { settingsIn(c).Format = "xml" }, `unknown "xml"`},
		{"mapping", func(c *reader.Config) {
			settingsIn(c).Format = FormatJSON
			settingsIn(c).Mapping = &reader.JSONMapping{}
		}, "mapping.epc"},
	}
	for _, c := range cases {
		cfg := cloneConfig(base)
		c.edit(&cfg)
		_, err := New(cfg, reader.Env{})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want ErrConfig containing %q", c.name, err, c.want)
		}
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("p4ss\r\n"), 0o600)
	ok := cloneConfig(base)
	settingsIn(&ok).Username, settingsIn(&ok).PasswordFile, settingsIn(&ok).Broker = "u", pw, "ssl://broker.example"
	src, err := New(ok, reader.Env{GatewayID: "floor3"})
	if err != nil {
		t.Fatal(err)
	}
	if src.set.password != "p4ss" || src.set.broker != "ssl://broker.example:8883" || src.ClientID() != "rfidgw-floor3-r" || src.set.qos != 1 {
		t.Fatalf("settings %+v", src.set)
	}
}

func TestTopics(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/+/c", "a/x/c", true}, {"a/+/c", "a/x/d", false},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"#", "a/b", true}, {"+", "a/b", false}, {"+/+", "a/b", true},
		{"a/+", "a", false}, {"#", "$SYS/x", false}, {"a/b", "a/b/c", false}, {"a/b/c", "a/b", false}, {"+/b", "/b", true},
	} {
		if got := topicMatch(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatch(%q, %q) = %v", c.filter, c.topic, got)
		}
	}
	if got := topicLevel("rfid/r700-2/events", 2); got != "r700-2" {
		t.Errorf("topicLevel = %q", got)
	}
	if got := topicLevel("rfid", 2); got != "" {
		t.Errorf("topicLevel beyond = %q", got)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]reader.Status{
		"connected": reader.StatusOnline, "connection lost": reader.StatusOffline, " Online\n": reader.StatusOnline,
		`"offline"`: reader.StatusOffline, `{"status":"offline"}`: reader.StatusOffline,
		`{"type":"heartbeat","timestamp":"2023-05-09T15:04:12.310+0000","data":{}}`: reader.StatusOnline,
		`{"type":"heartbeat","state":"down"}`:                                       reader.StatusOffline,
		"":                                                                          "", "banana": "", `{"type":"gpi"}`: "", `{"status":`: "",
	} {
		got, ok := parseStatus([]byte(in))
		if got != want || ok != (want != "") {
			t.Errorf("parseStatus(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestRateLog(t *testing.T) {
	r := rateLog{every: 10 * time.Second}
	t0 := time.Unix(0, 0)
	if ok, n := r.allow(t0, 1); !ok || n != 1 {
		t.Fatal(ok, n)
	}
	if ok, _ := r.allow(t0.Add(time.Second), 2); ok {
		t.Fatal("second line within 10 s")
	}
	if ok, n := r.allow(t0.Add(11*time.Second), 1); !ok || n != 3 {
		t.Fatal(ok, n)
	}
}

// settingsIn returns the mqtt settings of c, for tests that edit them.
func settingsIn(c *reader.Config) *Settings {
	if c.Settings == nil {
		c.Settings = &Settings{}
	}
	return c.Settings.(*Settings)
}

// cloneConfig copies c with its own settings, so an edit stays in the copy.
func cloneConfig(c reader.Config) reader.Config {
	s := *settingsIn(&c)
	c.Settings = &s
	return c
}

// TestNewErrorsNameTheKey: New's errors carry the entry key they are
// about, so `rfidgw check` prints readers[i].key: message.
func TestNewErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	base := reader.Config{ID: "r", Type: reader.TypeMQTT, Settings: &Settings{Broker: "tcp://127.0.0.1:1883", Topic: "a/+/b", Format: FormatImpinj}}
	for key, edit := range map[string]func(c *reader.Config){
		"broker": func(c *reader.Config) { settingsIn(c).Broker = "http://x:1" },
		"topic":  func(c *reader.Config) { settingsIn(c).Topic = "a/#/b" },
		"password_file": func(c *reader.Config) {
			settingsIn(c).Username = "u"
			settingsIn(c).PasswordFile = filepath.Join(dir, "pw")
		},
		"format": func(c *reader.Config) { settingsIn(c).Format = "xml" },
		"qos":    func(c *reader.Config) { q := 3; settingsIn(c).QoS = &q },
	} {
		cfg := cloneConfig(base)
		edit(&cfg)
		_, err := New(cfg, reader.Env{})
		var ke *keyed.Error
		if !errors.As(err, &ke) || ke.Key != key || strings.Contains(ke.Msg, "readers[") || strings.HasPrefix(ke.Msg, key) {
			t.Errorf("%s: %v carries %+v, want key %s and a message without key paths", key, err, ke, key)
		}
	}
}
