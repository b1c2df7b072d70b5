package remoteconfig

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names written by KeyGen.
const (
	PrivateKeyFile = "config.key"
	PublicKeyFile  = "config.pub"
)

// maxKeyFile bounds what is read from a key file.
const maxKeyFile = 16 << 10

// KeyID names a public key: the first 8 bytes of the SHA-256 of the raw key,
// in hex (16 characters). Messages carry it so the gateway knows which of its
// keys to verify with; `rfidgw config keygen` prints it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// KeyGen writes a new ed25519 key pair: dir/config.key (PKCS#8 PEM, mode
// 0600) and dir/config.pub (PKIX PEM, mode 0644). It refuses to overwrite an
// existing key. It returns the key id.
func KeyGen(dir string, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return "", fmt.Errorf("generating key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("key dir: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	keyPath, pubPath := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("%s already exists; keygen never overwrites a key (use another --out, or move it away first)", p)
		}
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(keyPath)
		return "", err
	}
	return KeyID(pub), nil
}

// writeNew creates path (failing if it exists), writes data and fsyncs.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func readPEM(path, wantType string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes, not a key file", ErrKey, path, maxKeyFile)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: %s: no PEM block (want %q, as written by rfidgw config keygen)", ErrKey, path, wantType)
	}
	if block.Type != wantType {
		return nil, fmt.Errorf("%w: %s: PEM block %q, want %q", ErrKey, path, block.Type, wantType)
	}
	return block.Bytes, nil
}

// LoadPrivateKey reads a private key written by KeyGen (or `openssl genpkey
// -algorithm ed25519`). A key file readable by group or others is refused.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %04o); chmod 600 it", ErrKey, path, st.Mode().Perm())
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: a %T, want an ed25519 key", ErrKey, path, k)
	}
	return priv, nil
}

// LoadPublicKey reads a public key written by KeyGen (or `openssl pkey
// -pubout`).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: a %T, want an ed25519 key", ErrKey, path, k)
	}
	return pub, nil
}

// KeySet is the public keys a gateway accepts, by key id.
type KeySet map[string]ed25519.PublicKey

// LoadKeySet reads every public key file; the error names the first bad one
// by its index in remote_config.public_keys.
func LoadKeySet(paths []string) (KeySet, error) {
	ks := KeySet{}
	for i, p := range paths {
		pub, err := LoadPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("remote_config.public_keys[%d]: %w", i, err)
		}
		ks[KeyID(pub)] = pub
	}
	return ks, nil
}

// IDs lists the key ids, sorted.
func (ks KeySet) IDs() []string {
	out := make([]string, 0, len(ks))
	for id := range ks {
		out = append(out, id)
	}
	sortStrings(out)
	return out
}
