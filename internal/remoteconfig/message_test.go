package remoteconfig

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB, dir string) (ed25519.PrivateKey, KeySet) {
	t.Helper()
	if _, err := KeyGen(dir, nil); err != nil {
		t.Fatal(err)
	}
	priv, err := LoadPrivateKey(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeySet([]string{filepath.Join(dir, PublicKeyFile)})
	if err != nil {
		t.Fatal(err)
	}
	return priv, ks
}

func sign(t testing.TB, priv ed25519.PrivateKey, target string, version uint64, cfg string) []byte {
	t.Helper()
	v, err := Sign(priv, Payload{Target: target, Version: version, Config: cfg, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeyGenFiles(t *testing.T) {
	dir := t.TempDir()
	id, err := KeyGen(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 16 {
		t.Errorf("key id %q, want 16 hex characters", id)
	}
	st, err := os.Stat(filepath.Join(dir, PrivateKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config.key: %v mode %v, want 0600", err, st.Mode())
	}
	pub, err := LoadPublicKey(filepath.Join(dir, PublicKeyFile))
	if err != nil || KeyID(pub) != id {
		t.Fatalf("config.pub: %v, id %s want %s", err, KeyID(pub), id)
	}
	if _, err := KeyGen(dir, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second keygen into the same dir: %v, want a refusal", err)
	}
	os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o644)
	if _, err := LoadPrivateKey(filepath.Join(dir, PrivateKeyFile)); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable private key: %v, want a refusal", err)
	}
	if _, err := LoadKeySet([]string{filepath.Join(dir, PrivateKeyFile)}); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "public_keys[0]") {
		t.Errorf("private key given as public: %v", err)
	}
}

func TestVerify(t *testing.T) {
	priv, keys := testKey(t, t.TempDir())
	other, _ := testKey(t, t.TempDir())
	good := sign(t, priv, "floor3", 7, "zones: []\nedge: {dwell: 4s}\n")
	msg, err := Verify("floor3", good, keys)
	if err != nil {
		t.Fatalf("good message: %v", err)
	}
	if msg.Version != 7 || msg.Target != "floor3" || strings.Join(msg.Sections.Names(), ",") != "zones,edge" {
		t.Errorf("message %+v", msg.Payload)
	}

	var env Envelope
	json.Unmarshal(good, &env)
	tamper := func(f func(e *Envelope)) []byte {
		e := env
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	sig, _ := base64.StdEncoding.DecodeString(env.Signature)
	sig[3] ^= 0x40
	cases := []struct {
		name, key string
		value     []byte
		want      error
		reason    string
	}{
		{"raw yaml", "floor3", []byte("zones: []\n"), ErrUnsigned, ReasonUnsigned},
		{"no signature", "floor3", tamper(func(e *Envelope) { e.Signature = "" }), ErrUnsigned, ReasonUnsigned},
		{"unknown key", "floor3", sign(t, other, "floor3", 8, "zones: []\n"), ErrUnknownKey, ReasonUnknownKey},
		{"flipped signature bit", "floor3", tamper(func(e *Envelope) { e.Signature = base64.StdEncoding.EncodeToString(sig) }), ErrBadSignature, ReasonBadSignature},
		{"payload changed", "floor3", tamper(func(e *Envelope) { e.Payload = strings.Replace(e.Payload, `"version":7`, `"version":9`, 1) }), ErrBadSignature, ReasonBadSignature},
		{"key id swapped", "floor3", tamper(func(e *Envelope) { e.KeyID = KeyID(other.Public().(ed25519.PublicKey)) }), ErrUnknownKey, ReasonUnknownKey},
		{"short signature", "floor3", tamper(func(e *Envelope) { e.Signature = "AAAA" }), ErrBadSignature, ReasonBadSignature},
		{"copied to another gateway", "floor4", good, ErrOtherGateway, ReasonOtherGateway},
		{"fleet message under a gateway key", "floor3", sign(t, priv, FleetKey, 8, "zones: []\n"), ErrOtherGateway, ReasonOtherGateway},
		{"local-only section", "floor3", sign(t, priv, "floor3", 8, "uplink: {kafka: {brokers: [evil:9092]}}\n"), ErrInvalid, ReasonInvalid},
		{"gateway id", "floor3", sign(t, priv, "floor3", 8, "gateway: {id: x}\nzones: []\n"), ErrInvalid, ReasonInvalid},
		{"not yaml", "floor3", sign(t, priv, "floor3", 8, "zones: [\n"), ErrInvalid, ReasonInvalid},
		{"too big", "floor3", make([]byte, MaxMessageBytes+1), ErrInvalid, ReasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.key, tc.value, keys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if Reason(err) != tc.reason {
				t.Errorf("reason %q, want %q", Reason(err), tc.reason)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	priv, _ := testKey(t, t.TempDir())
	for _, p := range []Payload{
		{Target: "Floor 3", Version: 1},
		{Target: "floor3", Version: 0},
		{Target: "floor3", Version: 1, Config: strings.Repeat("x", MaxConfigBytes+1)},
	} {
		if _, err := Sign(priv, p); err == nil {
			t.Errorf("Sign(%q v%d, %d bytes) succeeded", p.Target, p.Version, len(p.Config))
		}
	}
}

func TestSectionsHashIgnoresLayout(t *testing.T) {
	a, err := ParseSections([]byte("edge: {dwell: 4s, min_reads: 2}\nzones: [{id: a, kind: rack}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseSections([]byte("zones:\n  - kind: rack\n    id: a\nedge:\n  min_reads: 2\n  dwell: 4s\n"))
	c, _ := ParseSections([]byte("zones:\n  - kind: rack\n    id: b\nedge:\n  min_reads: 2\n  dwell: 4s\n"))
	if a.Hash() != b.Hash() || a.Hash() == c.Hash() || len(a.Hash()) != 12 {
		t.Errorf("hashes a=%s b=%s c=%s", a.Hash(), b.Hash(), c.Hash())
	}
	empty, err := ParseSections(nil)
	if err != nil || empty.Hash() != "-" || len(empty.Names()) != 0 {
		t.Errorf("empty file: %v %q", err, empty.Hash())
	}
	if _, err := ParseSections([]byte("- a\n- b\n")); !errors.Is(err, ErrSections) {
		t.Errorf("a list: %v", err)
	}
}

func TestCompose(t *testing.T) {
	local := []byte(`# the local file
gateway: {id: floor3, data_dir: /var/lib/rfidgw}
readers:
  - {id: dock-1, type: llrp, address: "10.0.0.5:5084"}
zones:
  - {id: old, kind: rack, antennas: [{reader: dock-1}]}
edge:
  dwell: 5s
uplink: {kafka: {brokers: ["k:9092"]}}
`)
	fleet, _ := ParseSections([]byte("edge: {dwell: 3s}\nzones: [{id: fleet-zone, kind: rack, antennas: [{reader: dock-1}]}]\n"))
	mine, _ := ParseSections([]byte("zones: [{id: my-zone, kind: rack, antennas: [{reader: dock-1}]}]\n"))
	out, err := Compose(local, fleet, mine)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"my-zone", "dwell: 3s", "10.0.0.5:5084", "k:9092", "data_dir: /var/lib/rfidgw"} {
		if !strings.Contains(s, want) {
			t.Errorf("composed config lacks %q:\n%s", want, s)
		}
	}
	for _, not := range []string{"fleet-zone", "old", "5s"} {
		if strings.Contains(s, not) {
			t.Errorf("composed config still has %q:\n%s", not, s)
		}
	}
	// A section the local file lacks is added.
	out, err = Compose([]byte("gateway: {id: x}\n"), mine)
	if err != nil || !strings.Contains(string(out), "my-zone") {
		t.Errorf("added section: %v\n%s", err, out)
	}
	if _, err := Compose([]byte("- a\n"), mine); err == nil {
		t.Error("a local file that is a list composed")
	}
}

func TestStateAtomicAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	st, err := LoadState(dir)
	if err != nil || len(st.Layers) != 0 {
		t.Fatalf("fresh state: %v %+v", err, st)
	}
	st.Layers["floor3"] = "{\"schema\":1}"
	st.Seen["floor3"] = Seen{Version: 4, Hash: "abc"}
	st.Last = Outcome{Result: ResultApplied, Version: 4, Since: time.Now().UTC()}
	if err := st.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(dir)
	if err != nil || back.Seen["floor3"].Version != 4 || back.Layers["floor3"] != `{"schema":1}` || back.Last.Result != ResultApplied {
		t.Fatalf("reloaded: %v %+v", err, back)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
	os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"schema":1,"layers":`), 0o640)
	st, err = LoadState(dir)
	if err == nil || st == nil || len(st.Layers) != 0 || !strings.Contains(err.Error(), "moved to") {
		t.Fatalf("corrupt state: %v %+v", err, st)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile+".corrupt")); err != nil {
		t.Errorf("corrupt file not kept aside: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	priv, keys := testKey(f, f.TempDir())
	good, _ := Sign(priv, Payload{Target: "floor3", Version: 3, Config: "zones: []\n"})
	f.Add("floor3", good)
	f.Add("*", []byte(`{"schema":1,"key_id":"x","payload":"{}","signature":"AAAA"}`))
	f.Add("floor3", []byte("zones: []"))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		msg, err := Verify(key, value, keys)
		if err == nil && (msg.Target != key || msg.Version == 0) {
			t.Fatalf("accepted %q v%d under key %q", msg.Target, msg.Version, key)
		}
		if err != nil && Reason(err) == "error" {
			t.Fatalf("error without a reason code: %v", err)
		}
		PeekVersion(value)
	})
}

func FuzzParseSections(f *testing.F) {
	f.Add([]byte("zones: [{id: a}]\nedge: {dwell: 4s}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSections(data)
		if err != nil {
			return
		}
		for k := range s {
			if !isRemoteSection(k) {
				t.Fatalf("section %q passed", k)
			}
		}
		s.Hash()
		if _, err := Compose([]byte("gateway: {id: x}\n"), s); err != nil {
			t.Fatalf("compose of parsed sections: %v", err)
		}
	})
}
