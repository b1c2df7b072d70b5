package redact

import (
	"bytes"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	cases := []struct{ in, want string }{
		{`broker=tcp://gw:s3cr3t@mqtt.local:1883`, `broker=tcp://gw:xxxxx@mqtt.local:1883`},
		{`"broker":"ssl://user:p@ss:w0rd@host:8883/x"`, `"broker":"ssl://user:xxxxx@host:8883/x"`},
		{`dial tcp://user@host:1883 failed`, `dial tcp://user@host:1883 failed`},
		{`tcp://host:1883`, `tcp://host:1883`},
		{`sasl.password=hunter2 sasl.username=gw`, `sasl.password=xxxxx sasl.username=gw`},
		{`{"sasl.password":"hunter2","x":1}`, `{"sasl.password":"xxxxx","x":1}`},
		{`password: hunter2`, `password: xxxxx`},
		{`ssl.key.password=abc`, `ssl.key.password=xxxxx`},
		{`Authorization: Bearer abcdefgh12345`, `Authorization: Bearer xxxxx`},
		{`reads 1234 from dock-door-1`, `reads 1234 from dock-door-1`},
	}
	for _, c := range cases {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := Writer(&b)
	in := "level=INFO msg=connected broker=tcp://gw:hunter2@10.0.0.5:1883\n"
	n, err := w.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if strings.Contains(b.String(), "hunter2") || !strings.Contains(b.String(), "tcp://gw:xxxxx@10.0.0.5:1883") {
		t.Errorf("wrote %q", b.String())
	}
}

func FuzzString(f *testing.F) {
	f.Add("tcp://u:p@h:1")
	f.Add("sasl.password=x")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if strings.Contains(s, "://") || strings.Contains(strings.ToLower(s), "pass") {
			_ = out
		}
		if String(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", s, out, String(out))
		}
	})
}
