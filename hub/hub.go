package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Hub is one `rfidgw hub` instance.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	audit *Audit
	view  *View
	prod  *kafka.Producer

	locConsumer atomic.Pointer[kafka.Consumer]
	locParts    []int32
	assigned    atomic.Int64
	published   atomic.Uint64
	stopping    atomic.Bool

	errMu   sync.Mutex
	lastErr error
	badMu   sync.Mutex
	bad     map[string]uint64 // DLQ'd messages by reason class

	addr atomic.Value // the HTTP listener's address

	viewCache strCache // the view consumer goroutine's string cache
}

// New checks cfg and returns a hub; Run starts it.
func New(cfg Config, log *slog.Logger) (*Hub, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, log: log, bad: map[string]uint64{},
		audit: NewAudit(cfg.DedupeWindow, time.Duration(cfg.HoleTimeout), log),
		view:  NewView(cfg.History, time.Duration(cfg.CrossFloorWindow))}
	return h, nil
}

// Audit and View give tests and the HTTP layer the hub's state.
func (h *Hub) Audit() *Audit { return h.audit }

// View is the asset timeline.
func (h *Hub) View() *View { return h.view }

// Addr is the HTTP address once Run listens.
func (h *Hub) Addr() string {
	a, _ := h.addr.Load().(string)
	return a
}

// Run serves until ctx ends. It returns an error when it cannot start
// (listen address taken, brokers unreachable for the topic set-up).
func (h *Hub) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", h.cfg.Listen)
	if err != nil {
		return fmt.Errorf("hub.listen %s: %w", h.cfg.Listen, err)
	}
	h.addr.Store(ln.Addr().String())
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	prod, err := kafka.NewProducer(ptr(h.clientConfig(kafka.ConfigMap{
		"enable.idempotence": true, "acks": "all", "linger.ms": 20, "compression.type": "lz4",
		"partitioner": "murmur2_random", "go.delivery.report.fields": "key",
	})))
	if err != nil {
		return fmt.Errorf("%w: producer: %w", ErrConfig, err)
	}
	h.prod = prod
	go h.deliveries()
	defer prod.Close()

	for {
		err := h.ensureTopics(ctx)
		if err == nil {
			break
		}
		h.log.Warn("hub: topic set-up failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	caught := &positions{pos: map[int32]int64{}}
	ready := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	run("locations", func(ctx context.Context) error { return h.runLocations(ctx, caught, ready) })
	select {
	case <-ready:
	case <-ctx.Done():
	}
	run("audit", h.runAudit)
	run("view", func(ctx context.Context) error { return h.runView(ctx, caught) })
	h.log.Info("hub running", "listen", h.Addr(), "instance", h.cfg.Instance, "group", h.cfg.Group,
		"topic", h.cfg.Topic, "status_topic", h.cfg.StatusTopic, "locations_topic", h.cfg.LocationsTopic)
	<-ctx.Done()
	h.stopping.Store(true)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// deliveries reads the producer's reports and remembers failures.
func (h *Hub) deliveries() {
	for ev := range h.prod.Events() {
		switch e := ev.(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				h.errMu.Lock()
				h.lastErr = e.TopicPartition.Error
				h.errMu.Unlock()
			}
		case kafka.Error:
			h.logKafka("producer", e)
		}
	}
}

func (h *Hub) deliveryErr() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	err := h.lastErr
	h.lastErr = nil
	return err
}

// countBad counts an unusable message by the first words of its reason.
func (h *Hub) countBad(err error) {
	reason := strings.TrimPrefix(err.Error(), ErrBadMessage.Error()+": ")
	if i := strings.IndexAny(reason, ":\"0123456789"); i > 0 {
		reason = strings.TrimSpace(reason[:i])
	}
	if len(reason) > 40 {
		reason = reason[:40]
	}
	h.badMu.Lock()
	if len(h.bad) < 64 || h.bad[reason] > 0 {
		h.bad[reason]++
	} else {
		h.bad["other"]++
	}
	h.badMu.Unlock()
}

// DeadLettered returns the count of unusable messages by reason.
func (h *Hub) DeadLettered() map[string]uint64 {
	h.badMu.Lock()
	defer h.badMu.Unlock()
	out := make(map[string]uint64, len(h.bad))
	for k, v := range h.bad {
		out[k] = v
	}
	return out
}

var errStopping = errors.New("stopping")

var _ = errStopping
