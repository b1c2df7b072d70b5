package mqtt

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/reader"
)

// Connection tuning. Variables so tests can shorten the backoff.
var (
	connectTimeout = 10 * time.Second
	keepAlive      = 30 * time.Second
	minBackoff     = 500 * time.Millisecond
	maxBackoff     = 30 * time.Second
)

const (
	// queueSize bounds messages received but not yet delivered. QoS 1/2
	// messages are further bounded by the broker's in-flight window
	// (mosquitto max_inflight_messages, default 20) because they stay
	// unacked until delivered.
	queueSize = 1024
	// A batch handed to Deliver holds at most this many messages' reads.
	maxBatchMessages = 256
)

// Source is one MQTT subscription (one `readers:` entry of type mqtt). It
// implements reader.Source and reader.Checker.
type Source struct {
	set *resolved
	log *slog.Logger
	m   reader.Metrics
}

var (
	_ reader.Source  = (*Source)(nil)
	_ reader.Checker = (*Source)(nil)
)

// New checks cfg (broker URL, topic, format, TLS files, password file) and
// returns a Source; it does not connect. env gives the gateway id (part of
// the default client id), the logger and the metrics (each may be zero).
func New(cfg reader.Config, env reader.Env) (*Source, error) {
	set, err := resolve(cfg, WithGatewayID(env.GatewayID))
	if err != nil {
		return nil, err
	}
	return &Source{set: set, log: env.Logger().With("reader", cfg.ID, "broker", set.brokerShown), m: env.Meter()}, nil
}

// ClientID returns the MQTT client id, which names the broker session.
func (s *Source) ClientID() string { return s.set.clientID }

// connEvent tells the worker about the broker connection.
type connEvent uint8

const (
	evMessage connEvent = iota
	evUp
	evDown
)

// item is one entry of the queue between paho and the delivering worker.
type item struct {
	ev   connEvent
	gen  uint64 // connection generation the item belongs to
	msg  paho.Message
	recv time.Time
}

// Run subscribes and hands reads to sink until ctx ends. Each MQTT message
// is acknowledged (PUBACK) only after sink.Deliver returned nil for its
// reads; the session is persistent (clean session off, fixed client id),
// so what was not acknowledged is sent again by the broker after a
// reconnect or a gateway restart. Run reconnects under reader.Supervise
// (backoff 500 ms .. 30 s, ±20 %, started over after a connection that
// stayed up 30 s) and reports broker and reader connection changes as
// status reads through its worker. It returns nil when ctx ends, and an
// error wrapping ErrSinkClosed if the sink refuses reads while ctx is still
// live. Run must not run twice at once: both would use the same client id,
// and the broker lets only one hold the session.
func (s *Source) Run(ctx context.Context, sink reader.Sink) error {
	queue := make(chan item, queueSize)
	w := newWorker(s, sink, queue)
	// sctx ends with ctx or when the worker stops (the sink refused reads).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workerErr error
	workerExit := make(chan struct{})
	go func() {
		workerErr = w.run(ctx)
		close(workerExit)
		cancel()
	}()
	r := &run{s: s, queue: queue, workerExit: workerExit}
	sup := &reader.Supervisor{
		ID: s.set.id, Kind: "mqtt", Sink: sink, Log: s.log,
		Backoff:   backoff.Backoff{Min: minBackoff, Max: maxBackoff, Jitter: backoff.DefaultJitter},
		GoodAfter: maxBackoff,
		OwnStatus: true, // the worker reports each reader id it serves
		Metrics:   s.m,
	}
	_ = sup.Supervise(sctx, r.session) // sessions never ask to stop
	<-workerExit
	if ctx.Err() != nil {
		return nil
	}
	return workerErr
}

// run is what the sessions of one Run share.
type run struct {
	s          *Source
	queue      chan item
	workerExit <-chan struct{}
	gen        uint64 // connection generation
}

// push queues a connection event for the worker; false when the run ends.
func (r *run) push(ctx context.Context, it item) bool {
	select {
	case r.queue <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// closeAfterWorker ends a live connection only once the worker has
// stopped, so the PUBACKs of its last delivered batch go out before
// DISCONNECT (paho sends both through one ordered channel).
func (r *run) closeAfterWorker(client paho.Client, done chan struct{}) {
	close(done) // frees a handler waiting for queue space
	<-r.workerExit
	r.s.barrier(client)
	client.Disconnect(250)
}

// session is one broker connection (generation r.gen): connect, subscribe,
// then wait until it is lost or the run ends.
func (r *run) session(ctx context.Context, link *reader.Link) error {
	s := r.s
	r.gen++
	gen := r.gen
	lost := make(chan error, 1)
	done := make(chan struct{})
	client := paho.NewClient(s.clientOptions(gen, r.queue, lost, done))
	err := s.connect(ctx, client)
	if err == nil {
		err = s.subscribe(ctx, client)
		if err != nil {
			close(done)
			client.Disconnect(0)
		}
	} else {
		close(done)
	}
	if ctx.Err() != nil {
		if err == nil {
			r.closeAfterWorker(client, done)
			return nil
		}
		// A connect cut short by ctx may still complete in paho.
		go client.Disconnect(0)
		return nil
	}
	if err != nil {
		r.push(ctx, item{ev: evDown, gen: gen})
		return err
	}
	s.log.Info("mqtt connected and subscribed", "topic", s.set.topic, "client_id", s.set.clientID)
	_ = link.Online() // statuses are the worker's (OwnStatus): this only marks the connection up
	if !r.push(ctx, item{ev: evUp, gen: gen}) {
		r.closeAfterWorker(client, done)
		return nil
	}
	select {
	case err := <-lost:
		close(done)
		r.push(ctx, item{ev: evDown, gen: gen})
		return fmt.Errorf("connection lost: %w", err)
	case <-ctx.Done():
		// The run ends, or the worker stopped: unacked messages stay with
		// the broker for the next session.
		r.closeAfterWorker(client, done)
		return nil
	}
}

// barrier makes one round trip after the last PUBACKs: the broker handles a
// connection's packets in order, so once it answered, it has taken the
// acks. Without it a quick restart can lose them: the broker may accept the
// new connection of the same client id first and drop the old socket with
// its unread acks, and then sends those messages again. UNSUBSCRIBE from a
// topic never subscribed changes nothing.
func (s *Source) barrier(client paho.Client) {
	if !client.IsConnectionOpen() {
		return
	}
	tok := client.Unsubscribe(s.set.clientID + "/rfidgw-ack-barrier")
	tok.WaitTimeout(2 * time.Second)
}

// clientOptions sets up one connection (generation gen) of Run.
func (s *Source) clientOptions(gen uint64, queue chan<- item, lost chan<- error, done <-chan struct{}) *paho.ClientOptions {
	o := s.baseOptions(s.set.clientID)
	o.SetCleanSession(false)
	o.SetAutoAckDisabled(true)
	// Ordered: PUBACKs must go out in the order the messages came (MQTT
	// 3.1.1 §4.6), and the worker acks in queue order. The handler only
	// blocks while the queue is full, i.e. while the sink is slow.
	o.SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		// The default handler also takes what a persistent session sends
		// before SUBSCRIBE is even answered.
		select {
		case queue <- item{ev: evMessage, gen: gen, msg: m, recv: time.Now()}:
		case <-done:
		}
	})
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	return o
}

func (s *Source) baseOptions(clientID string) *paho.ClientOptions {
	o := paho.NewClientOptions()
	o.AddBroker(s.set.broker)
	o.SetClientID(clientID)
	o.SetProtocolVersion(4) // no silent fallback to 3.1 that would blur a refusal
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetConnectTimeout(connectTimeout)
	o.SetKeepAlive(keepAlive)
	o.SetPingTimeout(10 * time.Second)
	o.SetWriteTimeout(10 * time.Second)
	if s.set.username != "" {
		o.SetUsername(s.set.username)
		o.SetPassword(s.set.password)
	}
	if s.set.tls != nil {
		o.SetTLSConfig(s.set.tls)
	}
	if strings.HasPrefix(s.set.broker, "tcp://") || strings.HasPrefix(s.set.broker, "mqtt://") {
		o.SetCustomOpenConnectionFn(openBuffered)
	}
	return o
}

// openBuffered dials a plain TCP broker like paho does and buffers both
// ways: paho reads each packet's header a byte at a time straight from the
// connection and writes every packet (each PUBACK) with its own system
// call, several system calls per message.
func openBuffered(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	nc, err := d.Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	c := &bufferedConn{Conn: nc, r: bufio.NewReaderSize(nc, 16<<10), kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.writer()
	return c, nil
}

// maxGathered bounds the bytes written and not yet sent; beyond it a
// write fails (and paho drops the connection) rather than grow.
const maxGathered = 1 << 20

// gatherWriteTimeout bounds one write of what gathered.
const gatherWriteTimeout = 10 * time.Second

// bufferedConn is a net.Conn whose reads go through a buffer and whose
// writes are gathered: Write appends to a buffer and a goroutine of the
// connection sends everything gathered with one system call (the
// PUBACKs of a delivered batch go out together). A failed send closes the
// connection, so paho sees it lost; an unsent PUBACK only means the broker
// delivers the message again (at least once).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu     sync.Mutex
	out    []byte // gathered, not yet sent
	err    error  // the first send error; later writes return it
	closed bool
	kick   chan struct{}
	done   chan struct{} // closed when writer returned
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.closed:
		c.mu.Unlock()
		return 0, net.ErrClosed
	case len(c.out)+len(p) > maxGathered:
		c.mu.Unlock()
		return 0, fmt.Errorf("mqtt connection: more than %d bytes waiting to be sent", maxGathered)
	}
	c.out = append(c.out, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// SetWriteDeadline is the writer's business (each send gets
// gatherWriteTimeout): paho's deadline around a Write that only gathers
// would land on another send.
func (c *bufferedConn) SetWriteDeadline(time.Time) error { return nil }

func (c *bufferedConn) writer() {
	defer close(c.done)
	var spare []byte
	for {
		c.mu.Lock()
		for len(c.out) == 0 && !c.closed {
			c.mu.Unlock()
			<-c.kick
			c.mu.Lock()
		}
		if len(c.out) == 0 {
			c.mu.Unlock()
			return
		}
		b := c.out
		c.out = spare[:0]
		c.mu.Unlock()
		err := c.Conn.SetWriteDeadline(time.Now().Add(gatherWriteTimeout))
		if err == nil {
			_, err = c.Conn.Write(b)
		}
		spare = b
		if err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
			c.Conn.Close() // paho's reader sees the connection gone
			return
		}
	}
}

// Close sends what gathered (paho's DISCONNECT), waiting up to a second,
// and closes the connection.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	return c.Conn.Close()
}

// connect connects client and classifies a failure.
func (s *Source) connect(ctx context.Context, client paho.Client) error {
	tok := client.Connect()
	if err := waitToken(ctx, tok, connectTimeout+2*time.Second); err != nil {
		return classify(err, s.set.brokerShown, s.set.username, s.set.clientID, s.set.tls != nil)
	}
	return nil
}

// subscribe subscribes to the data topic (and the status topic) and checks
// what the broker granted.
func (s *Source) subscribe(ctx context.Context, client paho.Client) error {
	filters := map[string]byte{s.set.topic: s.set.qos}
	if s.set.statusTopic != "" {
		filters[s.set.statusTopic] = s.set.qos
	}
	tok := client.SubscribeMultiple(filters, nil)
	if err := waitToken(ctx, tok, connectTimeout); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSubscribe, s.set.brokerShown, err)
	}
	for f, granted := range tok.(*paho.SubscribeToken).Result() {
		if granted == 0x80 {
			return fmt.Errorf("%w: broker %s refused topic %q for client %q (check the broker's ACL)", ErrSubscribe, s.set.brokerShown, f, s.set.clientID)
		}
	}
	return nil
}

func waitToken(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer within %v", timeout)
	}
}

// classify wraps a connect error in the sentinel that says what to fix.
func classify(err error, b, username, clientID string, usesTLS bool) error {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		recordHdr  tls.RecordHeaderError
		alert      tls.AlertError
		netOpError *net.OpError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return fmt.Errorf("%w: broker %s: user %q: check username and password_file: %w", ErrBadCredentials, b, username, err)
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		if username == "" {
			return fmt.Errorf("%w: broker %s wants a username and password_file (anonymous refused): %w", ErrNotAuthorized, b, err)
		}
		return fmt.Errorf("%w: broker %s: user %q: wrong password or not allowed; check username and password_file: %w", ErrNotAuthorized, b, username, err)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return fmt.Errorf("%w: broker %s rejected client id %q: %w", ErrNotAuthorized, b, clientID, err)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify),
		errors.As(err, &recordHdr), errors.As(err, &alert), strings.Contains(err.Error(), "tls:"):
		return fmt.Errorf("%w: broker %s: %w (check tls.ca, tls.cert/key and that the broker URL host matches its certificate)", ErrTLS, b, err)
	case usesTLS && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)):
		// With TLS 1.3 a broker that rejects the client certificate
		// does so after the client's handshake finished: a reset.
		return fmt.Errorf("%w: broker %s closed the TLS connection: %w (does it want a client certificate, tls.cert and tls.key, that it trusts?)", ErrTLS, b, err)
	case errors.As(err, &netOpError), errors.Is(err, packets.ErrorNetworkError):
		return fmt.Errorf("%w: broker %s: %w", ErrUnreachable, b, err)
	default:
		return fmt.Errorf("%w: broker %s: %w", ErrUnreachable, b, err)
	}
}

// Check connects once with a separate, clean session (client id + "-check",
// so a running daemon keeps its session), subscribes to the configured
// topics to prove the ACL allows them, and disconnects. It says what
// answered, or why not (ErrUnreachable, ErrBadCredentials, ErrNotAuthorized,
// ErrTLS, ErrSubscribe).
func (s *Source) Check(ctx context.Context) (string, error) {
	o := s.baseOptions(s.set.clientID + "-check")
	o.SetCleanSession(true)
	client := paho.NewClient(o)
	if err := s.connect(ctx, client); err != nil {
		go client.Disconnect(0) // in case paho completes it after ctx ended
		return "", err
	}
	defer client.Disconnect(100)
	if err := s.subscribe(ctx, client); err != nil {
		return "", err
	}
	topics := s.set.topic
	if s.set.statusTopic != "" {
		topics += " and " + s.set.statusTopic
	}
	proto := "tcp"
	if s.set.tls != nil {
		proto = "tls"
	}
	return fmt.Sprintf("broker %s ok (%s), subscribed to %s (qos %d, format %s); daemon client id %s",
		s.set.brokerShown, proto, topics, s.set.qos, s.set.parser.Format(), s.set.clientID), nil
}
