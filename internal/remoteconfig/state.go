package remoteconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// StateFile is the name of the state file in gateway.data_dir.
const StateFile = "remote-config.json"

// maxStateBytes bounds the state file (two messages of at most
// MaxMessageBytes plus bookkeeping).
const maxStateBytes = 3 * MaxMessageBytes

// Seen is a version handled for one key, and the hash of its sections.
type Seen struct {
	Version uint64 `json:"version"`
	Hash    string `json:"hash"`
}

// Pending is a push applied whose health gate has not closed yet.
type Pending struct {
	Key     string `json:"key"`
	Version uint64 `json:"version"`
	Hash    string `json:"hash"`
	Sum     string `json:"sum"` // valueSum of the message
}

// Outcome is the result of the last push this gateway handled.
type Outcome struct {
	Result  string    `json:"result"`           // applied | rejected | rolled_back | checking
	Reason  string    `json:"reason,omitempty"` // a Reason code
	Detail  string    `json:"detail,omitempty"` // what exactly
	Target  string    `json:"target,omitempty"` // the message key: gateway id or "*"
	Version uint64    `json:"version,omitempty"`
	Hash    string    `json:"hash,omitempty"`
	Since   time.Time `json:"since"`
}

// State is what the gateway keeps in gateway.data_dir/remote-config.json:
// the messages of the last good config (verified again at each start), the
// versions handled per key, a push whose health gate is open, and the last
// outcome.
type State struct {
	Schema  int               `json:"schema"`
	Layers  map[string]string `json:"layers"` // key -> the Kafka value in effect, byte for byte
	Seen    map[string]Seen   `json:"seen"`
	Pending *Pending          `json:"pending,omitempty"`
	Last    Outcome           `json:"last"`
	// HandledSums: see Handled.
	HandledSums map[string]string `json:"handled,omitempty"`
}

func newState() *State {
	return &State{Schema: schemaVersion, Layers: map[string]string{}, Seen: map[string]Seen{}}
}

// LoadState reads the state from dir. A missing file gives an empty state.
// A file that cannot be decoded is moved aside (name.corrupt) and an empty
// state is returned together with an error saying so: the gateway then runs
// its local file until the next push.
func LoadState(dir string) (*State, error) {
	path := filepath.Join(dir, StateFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("remote config state: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("remote config state %s: %w", path, err)
	}
	st := newState()
	derr := json.Unmarshal(data, st)
	if derr == nil && len(data) > maxStateBytes {
		derr = fmt.Errorf("larger than %d bytes", maxStateBytes)
	}
	if derr == nil && st.Schema != schemaVersion {
		derr = fmt.Errorf("schema %d, want %d", st.Schema, schemaVersion)
	}
	if derr != nil {
		aside := path + ".corrupt"
		if err := os.Rename(path, aside); err != nil {
			return nil, fmt.Errorf("remote config state %s is unreadable (%v) and cannot be moved aside: %w", path, derr, err)
		}
		return newState(), fmt.Errorf("remote config state %s was unreadable (%v); moved to %s, running the local file", path, derr, aside)
	}
	if st.Layers == nil {
		st.Layers = map[string]string{}
	}
	if st.Seen == nil {
		st.Seen = map[string]Seen{}
	}
	return st, nil
}

// Save writes the state atomically: a temporary file in dir, fsync, rename
// over the old one, fsync of dir. A crash leaves either the old or the new
// state, never a mix.
func (s *State) Save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, StateFile), append(data, '\n'), 0o640)
}

// WriteFileAtomic replaces path with data: temp file, fsync, rename, fsync
// of the directory.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cherr := f.Chmod(mode)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, cherr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync of %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync of %s: %w", dir, err)
	}
	return nil
}
