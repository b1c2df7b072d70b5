package mqttsim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
)

// Options configure a simulated MQTT reader (`rfidgw sim`).
type Options struct {
	Broker string // tcp://host:port, ssl://…, ws://…
	// Topic to publish tag events on; "{reader}" is replaced by each read's
	// reader id, so one publisher can play several readers
	// (e.g. rfid/{reader}/events with reader_from_topic: 2 on the gateway).
	Topic string
	// StatusTopic, if set, gets "connected" / "connection lost" for status
	// reads fed in (like an Impinj connect/will message); "{reader}" works
	// here too.
	StatusTopic string
	Format      string // impinj | zebra
	ClientID    string // default "rfidgw-sim-<format>"; fixed, so the session persists
	Username    string
	Password    string
	TLS         *reader.TLS
	QoS         *int // 0, 1 or 2; default 1
	// Batch is the most reads per payload. Zebra batches as a JSON array
	// (as its IoT Connector does with batching on); Impinj sends one event
	// per message whatever Batch says. Default 1.
	Batch int
	// Queue is how many reads wait while the broker is slow or away;
	// beyond it the oldest are dropped, like a real reader's buffer.
	// Default 100000.
	Queue int
	Log   *slog.Logger
}

// Publisher publishes the reads fed to it in a vendor's MQTT format. It
// implements reader.Emulator.
type Publisher struct {
	opts   Options
	qos    byte
	client paho.Client
	store  *paho.MemoryStore
	log    *slog.Logger

	mu      sync.Mutex
	ring    []reader.Read // queued reads, oldest at head
	head, n int
	dropped int
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	eventNum int
}

var _ reader.Emulator = (*Publisher)(nil)

// New connects to the broker (failing with a classified error if
// the first attempt does not succeed) and starts publishing what Feed gets.
// After that it reconnects by itself; QoS 1/2 messages published while the
// broker is away are kept and sent on reconnect (persistent session).
func New(opts Options) (*Publisher, error) {
	if opts.Format != mqtt.FormatImpinj && opts.Format != mqtt.FormatZebra {
		return nil, fmt.Errorf("%w: publisher format %q: want impinj or zebra", mqtt.ErrConfig, opts.Format)
	}
	if opts.Topic == "" || strings.ContainsAny(opts.Topic, "+#") {
		return nil, fmt.Errorf("%w: publisher topic %q: want a topic without wildcards, e.g. rfid/{reader}/events", mqtt.ErrConfig, opts.Topic)
	}
	broker, tlsCfg, err := mqtt.ParseBroker("publisher broker", opts.Broker, opts.TLS)
	if err != nil {
		return nil, err
	}
	p := &Publisher{opts: opts, qos: 1, wake: make(chan struct{}, 1), done: make(chan struct{}), store: paho.NewMemoryStore()}
	if opts.QoS != nil {
		if *opts.QoS < 0 || *opts.QoS > 2 {
			return nil, fmt.Errorf("%w: publisher qos %d: want 0, 1 or 2", mqtt.ErrConfig, *opts.QoS)
		}
		p.qos = byte(*opts.QoS)
	}
	if p.opts.Batch < 1 || opts.Format == mqtt.FormatImpinj {
		p.opts.Batch = 1
	}
	if p.opts.Queue < 1 {
		p.opts.Queue = 100000
	}
	p.ring = make([]reader.Read, p.opts.Queue)
	if p.opts.ClientID == "" {
		p.opts.ClientID = "rfidgw-sim-" + opts.Format
	}
	p.log = opts.Log
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("publisher", p.opts.ClientID, "broker", opts.Broker)

	connectTimeout, keepAlive := mqtt.ConnectTimeouts()
	o := paho.NewClientOptions()
	o.AddBroker(broker)
	o.SetClientID(p.opts.ClientID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(false)
	o.SetStore(p.store)
	o.SetAutoReconnect(true)
	o.SetMaxReconnectInterval(2 * time.Second)
	o.SetConnectTimeout(connectTimeout)
	o.SetKeepAlive(keepAlive)
	o.SetWriteTimeout(10 * time.Second)
	if opts.Username != "" {
		o.SetUsername(opts.Username)
		o.SetPassword(opts.Password)
	}
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { p.log.Warn("sim publisher lost the broker; reconnecting", "err", err) })
	p.client = paho.NewClient(o)
	if err := mqtt.WaitToken(context.Background(), p.client.Connect(), connectTimeout+2*time.Second); err != nil {
		return nil, mqtt.Classify(err, opts.Broker, opts.Username, p.opts.ClientID, tlsCfg != nil)
	}
	go p.loop()
	return p, nil
}

// Feed queues r for publishing; it never blocks. When the queue is full
// the oldest read is dropped.
func (p *Publisher) Feed(r reader.Read) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.n == len(p.ring) {
		p.head = (p.head + 1) % len(p.ring)
		p.n--
		p.dropped++
	}
	p.ring[(p.head+p.n)%len(p.ring)] = r
	p.n++
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Dropped returns how many reads were dropped because the queue was full.
func (p *Publisher) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// take removes up to max queued reads that go to the same topic.
func (p *Publisher) take(dst []reader.Read, max int) ([]reader.Read, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n > 0 && len(dst) < max {
		r := p.ring[p.head]
		if len(dst) > 0 && (r.IsStatus() || dst[0].IsStatus() || r.Reader != dst[0].Reader) {
			break
		}
		p.ring[p.head] = reader.Read{}
		p.head = (p.head + 1) % len(p.ring)
		p.n--
		dst = append(dst, r)
	}
	return dst, p.closed && p.n == 0
}

func (p *Publisher) loop() {
	defer close(p.done)
	var batch []reader.Read
	var payload []byte
	for {
		var last bool
		batch, last = p.take(batch[:0], p.opts.Batch)
		if len(batch) == 0 {
			if last {
				return
			}
			<-p.wake
			continue
		}
		var topic string
		if batch[0].IsStatus() {
			if p.opts.StatusTopic == "" {
				continue
			}
			topic = strings.ReplaceAll(p.opts.StatusTopic, "{reader}", batch[0].Reader)
			payload = append(payload[:0], "connected"...)
			if batch[0].Status == reader.StatusOffline {
				payload = append(payload[:0], "connection lost"...)
			}
		} else {
			topic = strings.ReplaceAll(p.opts.Topic, "{reader}", batch[0].Reader)
			payload = p.encode(payload[:0], batch)
		}
		// The payload is copied: paho keeps it in its store until acked.
		tok := p.client.Publish(topic, p.qos, false, append([]byte(nil), payload...))
		if err := mqtt.WaitToken(context.Background(), tok, 30*time.Second); err != nil {
			p.log.Error("sim publish failed; reads lost", "topic", topic, "reads", len(batch), "err", fmt.Errorf("%w: %w", mqtt.ErrPublish, err))
		}
	}
}

// encode writes reads in the vendor's format.
func (p *Publisher) encode(dst []byte, reads []reader.Read) []byte {
	if p.opts.Format == mqtt.FormatImpinj {
		return AppendImpinj(dst, reads[0])
	}
	if len(reads) == 1 {
		p.eventNum++
		return AppendZebra(dst, reads[0], p.eventNum)
	}
	dst = append(dst, '[')
	for i, r := range reads {
		if i > 0 {
			dst = append(dst, ',')
		}
		p.eventNum++
		dst = AppendZebra(dst, r, p.eventNum)
	}
	return append(dst, ']')
}

// AppendImpinj appends r as an Impinj IoT device interface tagInventory
// event: epcHex, antennaPort, peakRssiCdbm (centi-dBm), RFC 3339 times.
func AppendImpinj(dst []byte, r reader.Read) []byte {
	t := r.Time.UTC()
	dst = append(dst, `{"timestamp":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","hostname":`...)
	dst = strconv.AppendQuote(dst, r.Reader)
	dst = append(dst, `,"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"`...)
	dst = append(dst, r.EPC...)
	dst = append(dst, `","antennaPort":`...)
	dst = strconv.AppendInt(dst, int64(r.Antenna), 10)
	dst = append(dst, `,"peakRssiCdbm":`...)
	dst = strconv.AppendInt(dst, int64(math.Round(r.RSSI*100)), 10)
	dst = append(dst, `,"lastSeenTime":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}}`...)
}

// AppendZebra appends r as a Zebra IoT Connector tag data event with the
// colon-less offset Zebra uses. Real readers send whole dBm and
// milliseconds; finer values are kept so a replayed scenario is exact.
func AppendZebra(dst []byte, r reader.Read, eventNum int) []byte {
	t := r.Time.UTC()
	dst = append(dst, `{"type":"SIMPLE","timestamp":"`...)
	if t.Nanosecond()%int(time.Millisecond) == 0 {
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000-0700")
	} else {
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000000000-0700")
	}
	dst = append(dst, `","data":{"eventNum":`...)
	dst = strconv.AppendInt(dst, int64(eventNum), 10)
	dst = append(dst, `,"format":"epc","idHex":"`...)
	dst = append(dst, strings.ToLower(r.EPC)...)
	dst = append(dst, `","antenna":`...)
	dst = strconv.AppendInt(dst, int64(r.Antenna), 10)
	dst = append(dst, `,"peakRssi":`...)
	dst = strconv.AppendFloat(dst, r.RSSI, 'f', -1, 64)
	dst = append(dst, `,"reads":1}}`...)
	return dst
}

// Close publishes what is queued, waits (up to 10 s) until the broker
// acknowledged every QoS 1/2 message, and disconnects.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-p.done
	deadline := time.Now().Add(10 * time.Second)
	unacked := 0
	for {
		unacked = 0
		for _, k := range p.store.All() {
			if strings.HasPrefix(k, "o.") {
				unacked++
			}
		}
		if unacked == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.client.Disconnect(250)
	if unacked > 0 {
		return fmt.Errorf("%w: %d messages not acknowledged by broker %s at close", mqtt.ErrPublish, unacked, p.opts.Broker)
	}
	return nil
}

// Pump publishes the tag reads next fills in (reader, EPC, antenna, RSSI;
// the time is set when it is published), one per message (Batch applies
// to Zebra), at rate reads per second, or with rate 0 as fast as the
// broker and the gateway take them: up to window messages are
// unacknowledged at a time (QoS 1: the gateway's PUBACK comes only after
// its commit), so back-pressure, not loss, sets the pace. It returns the
// reads published when ctx ends, or the first publish error.
func (p *Publisher) Pump(ctx context.Context, rate float64, window int, next func(r *reader.Read)) (int64, error) {
	window = max(window, 1)
	toks := make([]paho.Token, 0, window)
	var (
		sent    int64
		batch   []reader.Read
		payload []byte
		start   = time.Now()
	)
	wait := func(t paho.Token) error { return mqtt.WaitToken(context.Background(), t, 30*time.Second) }
	for ctx.Err() == nil {
		if rate > 0 {
			due := int64(time.Since(start).Seconds()*rate) - sent
			if due <= 0 {
				d := time.Duration(float64(time.Second) / rate)
				select {
				case <-ctx.Done():
				case <-time.After(min(max(d, 500*time.Microsecond), 5*time.Millisecond)):
				}
				continue
			}
		}
		batch = batch[:0]
		now := time.Now()
		for len(batch) < p.opts.Batch {
			r := reader.Read{Time: now}
			next(&r)
			if len(batch) > 0 && r.Reader != batch[0].Reader {
				break // the next batch starts with a read of another reader: dropped here, rare
			}
			batch = append(batch, r)
		}
		payload = p.encode(payload[:0], batch)
		topic := strings.ReplaceAll(p.opts.Topic, "{reader}", batch[0].Reader)
		if len(toks) == window {
			if err := wait(toks[0]); err != nil {
				return sent, fmt.Errorf("%w: %w", mqtt.ErrPublish, err)
			}
			toks = append(toks[:0], toks[1:]...)
		}
		toks = append(toks, p.client.Publish(topic, p.qos, false, append([]byte(nil), payload...)))
		sent += int64(len(batch))
	}
	for _, t := range toks {
		_ = wait(t)
	}
	return sent, nil
}
