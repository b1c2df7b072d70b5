// Package redact owns keeping credentials out of what the gateway prints:
// passwords in URLs (tcp://user:pw@broker) and values of password-like
// settings (sasl.password, password, secret, token). The daemon's log
// output and `rfidgw check`'s report go through Writer, so a credential
// that reaches any log line or error message is masked there, whichever
// package produced it.
package redact

import (
	"bytes"
	"io"
	"regexp"
)

// Mask replaces a redacted credential.
const Mask = "xxxxx"

var (
	// scheme://user:password@ : the password is everything up to the
	// last '@' before the host (a password may hold '@' or ':').
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@"']*:)([^\s/"']*)@`)
	// key=value, key: value, "key":"value" for password-like keys. The key
	// must end in password, passwd, secret or token (sasl.password,
	// ssl.key.password, sasl.oauthbearer.client.secret, access_token),
	// optionally quoted; the value runs to a delimiter.
	keyValue = regexp.MustCompile(`(?i)((?:[\w.\-]*(?:password|passwd|secret|token))["']?\s*[:=]\s*["']?)([^\s"',}\]]+)`)
	// Authorization: Bearer <token> and Basic <credentials>.
	authHeader = regexp.MustCompile(`(?i)((?:bearer|basic)\s+)([A-Za-z0-9._~+/=\-]{8,})`)
)

// Bytes returns b with credentials masked. It returns b itself when there
// is nothing to mask.
func Bytes(b []byte) []byte {
	if !bytes.Contains(b, []byte("://")) && !maybeKey(b) {
		return b
	}
	b = urlPassword.ReplaceAll(b, []byte("${1}"+Mask+"@"))
	b = keyValue.ReplaceAll(b, []byte("${1}"+Mask))
	return authHeader.ReplaceAll(b, []byte("${1}"+Mask))
}

// String returns s with credentials masked.
func String(s string) string { return string(Bytes([]byte(s))) }

// maybeKey is a cheap pre-check for keyValue and authHeader.
func maybeKey(b []byte) bool {
	l := bytes.ToLower(b)
	for _, w := range [][]byte{[]byte("passw"), []byte("secret"), []byte("token"), []byte("bearer"), []byte("basic")} {
		if bytes.Contains(l, w) {
			return true
		}
	}
	return false
}

// Writer returns a writer that masks credentials in what it passes to w.
// Each Write is masked on its own, which suits log handlers (one record per
// Write) and line-wise reports.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (r writer) Write(p []byte) (int, error) {
	q := Bytes(p)
	if _, err := r.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}
