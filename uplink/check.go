package uplink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// checkDefaultTimeout bounds Check when ctx has no deadline.
const checkDefaultTimeout = 15 * time.Second

// Check connects to Kafka with cfg as the forwarder would (same librdkafka
// settings and credentials) and reports, for `rfidgw check`: the brokers
// answer, the credentials are accepted, the event, status (and EPCIS) topics exist,
// and the broker grants WRITE on them when it tells (Kafka >= 2.3). It
// produces nothing. The string describes what was found; the error says
// what is wrong and wraps ErrUnreachable, ErrAuthentication,
// ErrTopicMissing, ErrNotAuthorized or ErrConfig.
func Check(ctx context.Context, cfg Config) (string, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkDefaultTimeout)
		defer cancel()
	}
	// A plain TCP dial first: a refused port or an unknown host fails at
	// once with one short reason, where librdkafka would retry until the
	// timeout and repeat its error.
	if err := dialBootstrap(ctx, cfg.Brokers); err != nil {
		return "", fmt.Errorf("kafka %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	cm, err := producerConfig(cfg, "rfidgw-check")
	if err != nil {
		return "", err
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrConfig, err)
	}
	defer p.Close()

	// The client's error events say why metadata does not come: bad
	// credentials, TLS failures, refused connections.
	var mu sync.Mutex
	var clientErr error
	go func() {
		for ev := range p.Events() {
			if e, ok := ev.(kafka.Error); ok {
				mu.Lock()
				if clientErr == nil || errors.Is(classify(e), ErrAuthentication) || e.IsFatal() {
					clientErr = e
				}
				mu.Unlock()
			}
		}
	}()
	var logTail []string
	go func() {
		for l := range p.Logs() {
			if l.Level <= 4 {
				mu.Lock()
				logTail = append(logTail[max(0, len(logTail)-2):], l.Message)
				mu.Unlock()
			}
		}
	}()
	why := func(err error) error {
		mu.Lock()
		defer mu.Unlock()
		if clientErr != nil {
			err = clientErr
		}
		err = classify(err)
		if errors.Is(err, ErrAuthentication) {
			return err
		}
		// librdkafka's log lines mostly repeat the error: add only what
		// it does not say yet, once.
		var extra []string
		for _, l := range logTail {
			l = librdkafkaLine(l)
			if l != "" && !strings.Contains(err.Error(), l) && !slices.Contains(extra, l) {
				extra = append(extra, l)
			}
		}
		if len(extra) == 0 {
			return err
		}
		return fmt.Errorf("%w (librdkafka: %s)", err, strings.Join(extra, "; "))
	}

	brokers := strings.Join(cfg.Brokers, ",")
	var md *kafka.Metadata
	for {
		md, err = p.GetMetadata(nil, true, 1000)
		if err == nil {
			break
		}
		mu.Lock()
		authFailed := clientErr != nil && (errors.Is(classify(clientErr), ErrAuthentication) || clientErr.(kafka.Error).IsFatal())
		mu.Unlock()
		if authFailed || ctx.Err() != nil {
			return "", fmt.Errorf("kafka %s: %w", brokers, why(err))
		}
	}
	var notes []string
	topics := []string{cfg.Topic, cfg.StatusTopic}
	if cfg.EPCISTopic != "" {
		topics = append(topics, cfg.EPCISTopic)
	}
	for _, topic := range topics {
		tm, ok := md.Topics[topic]
		switch {
		case !ok:
			return "", fmt.Errorf("kafka %s: topic %s: %w (create it, or fix uplink.kafka.topic/status_topic/epcis_topic)", brokers, topic, ErrTopicMissing)
		case tm.Error.Code() != kafka.ErrNoError:
			return "", fmt.Errorf("kafka %s: topic %s: %w", brokers, topic, classify(tm.Error))
		case len(tm.Partitions) == 0:
			return "", fmt.Errorf("kafka %s: topic %s: %w (no partitions)", brokers, topic, ErrTopicMissing)
		}
		notes = append(notes, fmt.Sprintf("%s %d partitions", topic, len(tm.Partitions)))
	}
	if err := checkWrite(ctx, p, topics...); err != nil {
		return "", fmt.Errorf("kafka %s: %w", brokers, err)
	}
	// A fatal error here is the idempotent producer refused its id
	// (missing IDEMPOTENT_WRITE on the cluster).
	mu.Lock()
	ce := clientErr
	mu.Unlock()
	if ke, ok := ce.(kafka.Error); ok && ke.IsFatal() {
		return "", fmt.Errorf("kafka %s: %w", brokers, classify(ke))
	}
	return fmt.Sprintf("kafka ok: %d brokers, topics %s", len(md.Brokers), strings.Join(notes, ", ")), nil
}

// checkWrite asks the broker which operations we may perform on the topics;
// brokers that do not say are given the benefit of the doubt.
func checkWrite(ctx context.Context, p *kafka.Producer, topics ...string) error {
	a, err := kafka.NewAdminClientFromProducer(p)
	if err != nil {
		return nil
	}
	defer a.Close()
	res, err := a.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames(topics),
		kafka.SetAdminOptionIncludeAuthorizedOperations(true))
	if err != nil {
		return nil
	}
	for _, td := range res.TopicDescriptions {
		if td.Error.Code() != kafka.ErrNoError {
			return fmt.Errorf("topic %s: %w", td.Name, classify(td.Error))
		}
		if td.AuthorizedOperations == nil {
			continue
		}
		if !slices.Contains(td.AuthorizedOperations, kafka.ACLOperationWrite) &&
			!slices.Contains(td.AuthorizedOperations, kafka.ACLOperationAll) {
			return fmt.Errorf("topic %s: %w: no WRITE permission for this principal (ask for an ACL)", td.Name, ErrNotAuthorized)
		}
	}
	return nil
}

// librdkafkaLine strips a librdkafka log line to its message: no
// "[thrd:...]: " prefix, no "(after 0ms in state CONNECT...)" tail.
func librdkafkaLine(l string) string {
	if strings.HasPrefix(l, "[thrd:") {
		if i := strings.Index(l, "]: "); i >= 0 {
			l = l[i+3:]
		}
	}
	if i := strings.Index(l, " (after "); i >= 0 {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

// dialBootstrap opens (and closes) a TCP connection to every bootstrap
// broker in parallel. It returns nil as soon as one answers, and an error
// wrapping ErrUnreachable with each broker's short reason when none does.
func dialBootstrap(ctx context.Context, brokers []string) error {
	type result struct {
		addr string
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan result, len(brokers))
	for _, b := range brokers {
		addr := b
		if i := strings.Index(addr, "://"); i >= 0 { // SSL://host:port
			addr = addr[i+3:]
		}
		go func() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			res <- result{b, err}
		}()
	}
	var why []string
	for range brokers {
		r := <-res
		if r.err == nil {
			return nil
		}
		why = append(why, shortDialError(r.addr, r.err, len(brokers) > 1))
	}
	slices.Sort(why)
	return fmt.Errorf("%w: %s", ErrUnreachable, strings.Join(why, "; "))
}

// shortDialError says why a dial failed in a few words.
func shortDialError(addr string, err error, named bool) string {
	var dnsErr *net.DNSError
	var msg string
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.As(err, &dnsErr):
		msg = "unknown host " + dnsErr.Name
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		msg = "no answer before the timeout (host down or a firewall drops the packets)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		msg = "no route to host"
	default:
		msg = err.Error()
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			msg = oe.Err.Error()
		}
	}
	if named {
		return addr + " " + msg
	}
	return msg
}
