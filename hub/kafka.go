package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Header names of dead-letter messages.
const (
	HeaderDLQReason    = "rfidgw_dlq_reason"
	HeaderDLQTopic     = "rfidgw_dlq_topic"
	HeaderDLQPartition = "rfidgw_dlq_partition"
	HeaderDLQOffset    = "rfidgw_dlq_offset"
)

func (h *Hub) clientConfig(extra kafka.ConfigMap) kafka.ConfigMap {
	cm := kafka.ConfigMap{
		"bootstrap.servers":        joinComma(h.cfg.Brokers),
		"reconnect.backoff.max.ms": 1000,
		"log_level":                3,
		"go.logs.channel.enable":   false,
	}
	for k, v := range h.cfg.Librdkafka {
		cm[k] = v
	}
	for k, v := range extra {
		cm[k] = v
	}
	return cm
}

func joinComma(s []string) string {
	out := ""
	for i, b := range s {
		if i > 0 {
			out += ","
		}
		out += b
	}
	return out
}

func (h *Hub) consumerConfig(group string) kafka.ConfigMap {
	return h.clientConfig(kafka.ConfigMap{
		"group.id":                           group,
		"enable.auto.commit":                 false,
		"enable.auto.offset.store":           false,
		"auto.offset.reset":                  "earliest",
		"enable.partition.eof":               false,
		"session.timeout.ms":                 10000,
		"heartbeat.interval.ms":              1000,
		"fetch.wait.max.ms":                  100,
		"topic.metadata.refresh.interval.ms": 5000,
		"partition.assignment.strategy":      "range",
	})
}

// ensureTopics creates the locations topic (compacted) and the DLQ topic
// when they are missing, with the events topic's partition count.
func (h *Hub) ensureTopics(ctx context.Context) error {
	adm, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": joinComma(h.cfg.Brokers)})
	if err != nil {
		return err
	}
	defer adm.Close()
	parts, err := h.partitions(adm, h.cfg.Topic)
	if err != nil {
		return fmt.Errorf("events topic %s: %w", h.cfg.Topic, err)
	}
	specs := []kafka.TopicSpecification{
		{Topic: h.cfg.LocationsTopic, NumPartitions: len(parts), ReplicationFactor: -1,
			Config: map[string]string{"cleanup.policy": "compact"}},
		{Topic: h.cfg.DLQTopic, NumPartitions: 1, ReplicationFactor: -1},
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := adm.CreateTopics(cctx, specs)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError && r.Error.Code() != kafka.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Error)
		}
	}
	return nil
}

type metadataClient interface {
	GetMetadata(topic *string, allTopics bool, timeoutMs int) (*kafka.Metadata, error)
}

// partitions lists a topic's partitions (waiting up to 15 s for it to exist).
func (h *Hub) partitions(c metadataClient, topic string) ([]int32, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		md, err := c.GetMetadata(&topic, false, 5000)
		if err == nil {
			t := md.Topics[topic]
			if t.Error.Code() == kafka.ErrNoError && len(t.Partitions) > 0 {
				out := make([]int32, 0, len(t.Partitions))
				for _, p := range t.Partitions {
					out = append(out, p.ID)
				}
				return out, nil
			}
			err = t.Error
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no metadata for topic %s: %w", topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// positions tracks the next offset per partition of one topic.
type positions struct {
	mu  sync.Mutex
	pos map[int32]int64
}

func (p *positions) set(part int32, next int64) {
	p.mu.Lock()
	if next > p.pos[part] {
		p.pos[part] = next
	}
	p.mu.Unlock()
}

func (p *positions) snapshot() map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]int64, len(p.pos))
	for k, v := range p.pos {
		out[k] = v
	}
	return out
}

// highWatermarks returns each partition's end offset as the consumer last
// saw it in a fetch (no network call); partitions not fetched yet are
// queried.
func highWatermarks(c *kafka.Consumer, topic string, parts []int32) map[int32]int64 {
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		_, hi, err := c.GetWatermarkOffsets(topic, p)
		if err != nil || hi < 0 {
			_, hi, err = c.QueryWatermarkOffsets(topic, p, 5000)
			if err != nil {
				hi = 1 << 62 // unknown: never satisfied until known
			}
		}
		out[p] = hi
	}
	return out
}

// runAudit consumes every partition of the events and status topics from
// the beginning and feeds the audit.
func (h *Hub) runAudit(ctx context.Context) error {
	c, err := kafka.NewConsumer(ptr(h.consumerConfig(h.cfg.Group + "-audit-" + h.cfg.Instance)))
	if err != nil {
		return fmt.Errorf("%w: audit consumer: %w", ErrConfig, err)
	}
	defer c.Close()
	evParts, err := h.partitions(c, h.cfg.Topic)
	if err != nil {
		return err
	}
	stParts, err := h.partitions(c, h.cfg.StatusTopic)
	if err != nil {
		return err
	}
	var tps []kafka.TopicPartition
	for _, p := range evParts {
		tps = append(tps, kafka.TopicPartition{Topic: &h.cfg.Topic, Partition: p, Offset: kafka.OffsetBeginning})
	}
	for _, p := range stParts {
		tps = append(tps, kafka.TopicPartition{Topic: &h.cfg.StatusTopic, Partition: p, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(tps); err != nil {
		return err
	}
	pos := &positions{pos: map[int32]int64{}}
	for _, p := range evParts {
		lo, _, err := c.QueryWatermarkOffsets(h.cfg.Topic, p, 5000)
		if err == nil {
			pos.set(p, lo)
		}
	}
	h.audit.mu.Lock()
	h.audit.positions = pos.snapshot
	h.audit.ends = func() map[int32]int64 { return highWatermarks(c, h.cfg.Topic, evParts) }
	h.audit.mu.Unlock()
	lastSettle := time.Now()
	cache := &strCache{}
	for ctx.Err() == nil {
		ev := c.Poll(100)
		switch m := ev.(type) {
		case *kafka.Message:
			if m.TopicPartition.Error != nil {
				continue
			}
			if *m.TopicPartition.Topic == h.cfg.StatusTopic {
				st, err := parseStatus(m.Value)
				if err != nil {
					h.countBad(err)
					continue
				}
				h.audit.Status(&st)
				continue
			}
			pos.set(m.TopicPartition.Partition, int64(m.TopicPartition.Offset)+1)
			e, err := parseEventCached(m.Value, cache)
			if err != nil {
				continue // counted and dead-lettered by the view consumer
			}
			h.audit.Event(&e, m.Value)
		case kafka.Error:
			h.logKafka("audit consumer", m)
		}
		if time.Since(lastSettle) >= 500*time.Millisecond {
			lastSettle = time.Now()
			h.audit.Settle()
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// runLocations reads the locations topic from the beginning, forever, into
// the view; ready is closed once it reached the end offsets of its start.
func (h *Hub) runLocations(ctx context.Context, caught *positions, ready chan<- struct{}) error {
	c, err := kafka.NewConsumer(ptr(h.consumerConfig(h.cfg.Group + "-locations-" + h.cfg.Instance)))
	if err != nil {
		return fmt.Errorf("%w: locations consumer: %w", ErrConfig, err)
	}
	defer c.Close()
	parts, err := h.partitions(c, h.cfg.LocationsTopic)
	if err != nil {
		return err
	}
	var tps []kafka.TopicPartition
	ends := map[int32]int64{}
	for _, p := range parts {
		tps = append(tps, kafka.TopicPartition{Topic: &h.cfg.LocationsTopic, Partition: p, Offset: kafka.OffsetBeginning})
		lo, hi, err := c.QueryWatermarkOffsets(h.cfg.LocationsTopic, p, 10000)
		if err != nil {
			return fmt.Errorf("locations topic %s: %w", h.cfg.LocationsTopic, err)
		}
		ends[p] = hi
		caught.set(p, lo)
	}
	if err := c.Assign(tps); err != nil {
		return err
	}
	h.locParts = parts
	h.locConsumer.Store(c)
	restored := 0
	isReady := false
	check := func() {
		if !isReady && passed(caught.snapshot(), ends) {
			isReady = true
			h.log.Info("hub: asset state restored from the locations topic", "topic", h.cfg.LocationsTopic, "messages", restored)
			close(ready)
		}
	}
	check()
	for ctx.Err() == nil {
		ev := c.Poll(100)
		switch m := ev.(type) {
		case *kafka.Message:
			if m.TopicPartition.Error != nil {
				continue
			}
			if m.Value != nil {
				if err := h.view.Restore(m.Value); err != nil {
					h.log.Warn("hub: unusable locations message skipped", "partition", m.TopicPartition.Partition,
						"offset", m.TopicPartition.Offset, "err", err)
				}
				restored++
			}
			caught.set(m.TopicPartition.Partition, int64(m.TopicPartition.Offset)+1)
		case kafka.Error:
			h.logKafka("locations consumer", m)
		}
		check()
	}
	return nil
}

// waitLocations waits until the locations consumer has read everything
// produced to the locations topic so far (after a rebalance, the previous
// owner's last state).
func (h *Hub) waitLocations(ctx context.Context, caught *positions) {
	c := h.locConsumer.Load()
	if c == nil {
		return
	}
	ends := map[int32]int64{}
	for _, p := range h.locParts {
		_, hi, err := c.QueryWatermarkOffsets(h.cfg.LocationsTopic, p, 5000)
		if err != nil {
			return
		}
		ends[p] = hi
	}
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) && !passed(caught.snapshot(), ends) {
		time.Sleep(20 * time.Millisecond)
	}
}

// runView consumes the events topic in the consumer group (partitions
// split among the instances by EPC), applies events to the view, publishes
// changed locations and commits offsets after they are stored.
func (h *Hub) runView(ctx context.Context, caught *positions) error {
	c, err := kafka.NewConsumer(ptr(h.consumerConfig(h.cfg.Group)))
	if err != nil {
		return fmt.Errorf("%w: view consumer: %w", ErrConfig, err)
	}
	defer c.Close()
	pending := map[int32]int64{} // next offset to commit per partition
	flush := func(wait time.Duration) error {
		acked, err := h.publishLocations(wait)
		if err != nil {
			return err
		}
		if !acked || len(pending) == 0 {
			return nil
		}
		var tps []kafka.TopicPartition
		for p, off := range pending {
			tps = append(tps, kafka.TopicPartition{Topic: &h.cfg.Topic, Partition: p, Offset: kafka.Offset(off)})
		}
		if _, err := c.CommitOffsets(tps); err != nil {
			return err
		}
		clear(pending)
		return nil
	}
	rebalance := func(c *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			h.log.Info("hub: partitions assigned", "partitions", len(e.Partitions))
			h.waitLocations(ctx, caught)
			h.assigned.Store(int64(len(e.Partitions)))
		case kafka.RevokedPartitions:
			if err := flush(5 * time.Second); err != nil {
				h.log.Warn("hub: commit on revoke failed; the next owner reads those events again", "err", err)
			}
			clear(pending)
		}
		return nil
	}
	if err := c.SubscribeTopics([]string{h.cfg.Topic}, rebalance); err != nil {
		return err
	}
	lastFlush := time.Now()
	for ctx.Err() == nil {
		ev := c.Poll(50)
		switch m := ev.(type) {
		case *kafka.Message:
			if m.TopicPartition.Error != nil {
				continue
			}
			h.handleViewMessage(m)
			pending[m.TopicPartition.Partition] = int64(m.TopicPartition.Offset) + 1
		case kafka.Error:
			h.logKafka("view consumer", m)
		}
		if time.Since(lastFlush) >= time.Duration(h.cfg.FlushInterval) {
			lastFlush = time.Now()
			if err := flush(200 * time.Millisecond); err != nil {
				h.log.Warn("hub: publishing locations or committing failed; retrying", "err", err)
			}
		}
	}
	if err := flush(5 * time.Second); err != nil {
		h.log.Warn("hub: final commit failed", "err", err)
	}
	return nil
}

func (h *Hub) handleViewMessage(m *kafka.Message) {
	e, err := parseEventCached(m.Value, &h.viewCache)
	if err != nil {
		h.deadLetter(m, err)
		return
	}
	h.view.Apply(&e)
}

// deadLetter sends an unusable message to the DLQ topic with the reason,
// topic, partition and offset in headers, and counts it. It never blocks
// the consumer for long: a DLQ that cannot be written is logged.
func (h *Hub) deadLetter(m *kafka.Message, reason error) {
	h.countBad(reason)
	msg := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &h.cfg.DLQTopic, Partition: kafka.PartitionAny},
		Key:            m.Key,
		Value:          m.Value,
		Headers: append(append([]kafka.Header(nil), m.Headers...),
			kafka.Header{Key: HeaderDLQReason, Value: []byte(reason.Error())},
			kafka.Header{Key: HeaderDLQTopic, Value: []byte(*m.TopicPartition.Topic)},
			kafka.Header{Key: HeaderDLQPartition, Value: []byte(fmt.Sprint(m.TopicPartition.Partition))},
			kafka.Header{Key: HeaderDLQOffset, Value: []byte(fmt.Sprint(int64(m.TopicPartition.Offset)))}),
	}
	if err := h.prod.Produce(msg, nil); err != nil {
		h.log.Error("hub: dead-letter message not written", "topic", h.cfg.DLQTopic, "err", err)
	}
	h.log.Warn("hub: unusable message sent to the dead-letter topic", "dlq", h.cfg.DLQTopic,
		"partition", m.TopicPartition.Partition, "offset", int64(m.TopicPartition.Offset), "reason", reason)
}

// publishLocations produces the changed assets and waits a little for
// Kafka's acknowledgements; it reports whether everything produced so far
// is acknowledged (only then may the offsets of the events behind it be
// committed). It never blocks the consumer for long: while Kafka is away
// the view keeps polling (rebalances go on) and commits nothing.
func (h *Hub) publishLocations(wait time.Duration) (acked bool, err error) {
	keys, values := h.view.TakeDirty()
	for i := range keys {
		msg := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &h.cfg.LocationsTopic, Partition: kafka.PartitionAny},
			Key:            []byte(keys[i]), Value: values[i],
		}
		if err := h.prod.Produce(msg, nil); err != nil {
			var ke kafka.Error
			if errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull {
				h.view.markAllDirty(keys[i:])
				return false, nil
			}
			h.view.markAllDirty(keys[i:])
			return false, err
		}
	}
	h.published.Add(uint64(len(keys)))
	left := h.prod.Flush(int(wait.Milliseconds()))
	if err := h.deliveryErr(); err != nil {
		h.view.markAllDirty(keys) // sent again; the rev orders them
		return false, err
	}
	return left == 0, nil
}

func (h *Hub) logKafka(who string, e kafka.Error) {
	if e.IsFatal() {
		h.log.Error("hub: "+who+": fatal Kafka error", "err", e)
		return
	}
	h.log.Debug("hub: "+who, "err", e)
}

var _ = slog.Default
