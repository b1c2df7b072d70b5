package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kgoSecurity translates the security part of a librdkafka configuration
// (security.protocol, ssl.*, sasl.*) into franz-go options, so that the
// tests' franz-go readers connect with the same settings as the forwarder.
// Other keys are ignored. (The product itself has only librdkafka.)
func kgoSecurity(conf map[string]string, passwordFile string) ([]kgo.Opt, error) {
	get := func(k string) string { return strings.TrimSpace(conf[k]) }
	proto := strings.ToLower(get("security.protocol"))
	var opts []kgo.Opt
	useTLS, useSASL := false, false
	switch proto {
	case "", "plaintext":
	case "ssl":
		useTLS = true
	case "sasl_plaintext":
		useSASL = true
	case "sasl_ssl":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("%w: librdkafka.security.protocol %q: want plaintext, ssl, sasl_plaintext or sasl_ssl", ErrConfig, proto)
	}
	if useTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := get("ssl.ca.location"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("%w: librdkafka.ssl.ca.location: %w", ErrConfig, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: librdkafka.ssl.ca.location: no PEM certificate in %s", ErrConfig, ca)
			}
			tc.RootCAs = pool
		}
		if cert, key := get("ssl.certificate.location"), get("ssl.key.location"); cert != "" || key != "" {
			if get("ssl.key.password") != "" {
				return nil, fmt.Errorf("%w: librdkafka.ssl.key.password: encrypted keys are not supported by tail; use an unencrypted key file", ErrConfig)
			}
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("%w: librdkafka.ssl.certificate.location/ssl.key.location: %w", ErrConfig, err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		if strings.EqualFold(get("enable.ssl.certificate.verification"), "false") {
			tc.InsecureSkipVerify = true
		} else if strings.EqualFold(get("ssl.endpoint.identification.algorithm"), "none") {
			// Verify the chain but not the host name, like librdkafka.
			tc.InsecureSkipVerify = true
			roots := tc.RootCAs
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return fmt.Errorf("broker sent no certificate")
				}
				inter := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					inter.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
				return err
			}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if useSASL {
		user, pass := get("sasl.username"), conf["sasl.password"]
		if f := get("sasl.password_file"); f != "" {
			passwordFile = f
		}
		if passwordFile != "" {
			s, err := readSecret(passwordFile)
			if err != nil {
				return nil, fmt.Errorf("%w: sasl password file: %w", ErrConfig, err)
			}
			pass = s
		}
		mech := strings.ToUpper(get("sasl.mechanism"))
		if mech == "" {
			mech = strings.ToUpper(get("sasl.mechanisms"))
		}
		switch mech {
		case "", "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("%w: librdkafka.sasl.mechanism %q: tail supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", ErrConfig, mech)
		}
	}
	return opts, nil
}
