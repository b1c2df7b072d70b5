package gateway

import (
	"net/http/httptest"
	"testing"
)

// The Bearer auth scheme is case-insensitive; a missing or other scheme,
// or an empty token, is refused.
func TestTokenOK(t *testing.T) {
	cases := []struct {
		auth, query string
		ok          bool
	}{
		{"Bearer s3cret", "", true},
		{"bearer s3cret", "", true},
		{"BEARER   s3cret ", "", true},
		{"", "s3cret", true},
		{"Bearer wrong", "", false},
		{"Basic s3cret", "", false},
		{"s3cret", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/metrics?token="+c.query, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := tokenOK(r, "s3cret"); got != c.ok {
			t.Errorf("Authorization %q, ?token=%q: %v, want %v", c.auth, c.query, got, c.ok)
		}
	}
}
