package remoteconfig

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/rfidgw/rfidgw/uplink"
)

// ErrTool wraps failures of the push and status tools that are the
// operator's to fix (no brokers, bad version).
var ErrTool = errors.New("config tool")

// PushOptions are the flags of `rfidgw config push`.
type PushOptions struct {
	Brokers    []string
	Librdkafka map[string]string // security settings, as uplink.kafka.librdkafka
	Topic      string            // default DefaultTopic
	Target     string            // a gateway id, or FleetKey for every gateway
	Config     []byte            // the file: only RemoteSections, in the gateway's YAML form
	Key        ed25519.PrivateKey
	Version    uint64 // 0: one more than the highest version on the topic
	By         string // who pushes (informational)
	Timeout    time.Duration
}

// PushResult says what was published.
type PushResult struct {
	Version      uint64
	Hash         string
	KeyID        string
	Sections     []string
	Partition    int32
	Offset       int64
	TopicCreated bool
}

func toolClientConfig(brokers []string, props map[string]string) (kafka.ConfigMap, error) {
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: --brokers is required (host:port[,host:port])", ErrTool)
	}
	return uplink.ClientConfig(uplink.Config{Brokers: brokers, Librdkafka: props})
}

// Push signs the sections and publishes them under the target's key. The
// topic is created (compacted, one partition) when it does not exist.
func Push(ctx context.Context, o PushOptions) (PushResult, error) {
	var res PushResult
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if !ValidTarget(o.Target) {
		return res, fmt.Errorf("%w: gateway %q is not a gateway id ([a-z0-9._-]{1,64})", ErrTool, o.Target)
	}
	secs, err := ParseSections(o.Config)
	if err != nil {
		return res, err
	}
	res.Hash, res.Sections = secs.Hash(), secs.Names()
	base, err := toolClientConfig(o.Brokers, o.Librdkafka)
	if err != nil {
		return res, err
	}
	res.TopicCreated, err = ensureTopic(ctx, base, o.Topic)
	if err != nil {
		return res, err
	}
	highest, err := highestVersion(ctx, base, o.Topic)
	if err != nil {
		return res, err
	}
	switch {
	case o.Version == 0:
		o.Version = highest + 1
	case o.Version <= highest:
		return res, fmt.Errorf("%w: --version %d is not above the highest version on %s (%d); versions only go up", ErrTool, o.Version, o.Topic, highest)
	}
	value, err := Sign(o.Key, Payload{Target: o.Target, Version: o.Version, By: o.By, Config: string(o.Config)})
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrTool, err)
	}
	res.Version, res.KeyID = o.Version, KeyID(o.Key.Public().(ed25519.PublicKey))
	pc := clone(base)
	pc["enable.idempotence"] = true
	pc["acks"] = "all"
	pc["go.logs.channel.enable"] = true
	p, err := kafka.NewProducer(&pc)
	if err != nil {
		return res, fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	go drainLogs(p.Logs())
	report := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &o.Topic, Partition: kafka.PartitionAny},
		Key:            []byte(o.Target), Value: value,
		Headers: []kafka.Header{{Key: "content-type", Value: []byte("application/json")}},
	}, report); err != nil {
		return res, fmt.Errorf("publishing to %s: %w", o.Topic, err)
	}
	select {
	case ev := <-report:
		m := ev.(*kafka.Message)
		if m.TopicPartition.Error != nil {
			return res, fmt.Errorf("publishing to %s: %w", o.Topic, m.TopicPartition.Error)
		}
		res.Partition, res.Offset = m.TopicPartition.Partition, int64(m.TopicPartition.Offset)
	case <-ctx.Done():
		return res, fmt.Errorf("publishing to %s: no acknowledgement within %s (are the brokers %v reachable?)", o.Topic, o.Timeout, o.Brokers)
	}
	return res, nil
}

func clone(cm kafka.ConfigMap) kafka.ConfigMap {
	out := kafka.ConfigMap{}
	for k, v := range cm {
		out[k] = v
	}
	return out
}

func drainLogs(c chan kafka.LogEvent) {
	for range c {
	}
}

func remaining(ctx context.Context) int {
	d, ok := ctx.Deadline()
	if !ok {
		return 10000
	}
	return max(int(time.Until(d)/time.Millisecond), 1)
}

// ensureTopic creates topic (compacted, one partition) if the brokers do
// not know it.
func ensureTopic(ctx context.Context, base kafka.ConfigMap, topic string) (bool, error) {
	ac := clone(base)
	ac["log_level"] = 0 // the admin client cannot route logs; the errors say it
	adm, err := kafka.NewAdminClient(&ac)
	if err != nil {
		return false, fmt.Errorf("admin client: %w", err)
	}
	defer adm.Close()
	// All topics: asking for this one could make a broker auto-create it
	// (not compacted).
	md, err := adm.GetMetadata(nil, true, min(remaining(ctx), 10000))
	if err != nil {
		return false, fmt.Errorf("brokers not reachable: %w", err)
	}
	if tm, ok := md.Topics[topic]; ok && tm.Error.Code() == kafka.ErrNoError && len(tm.Partitions) > 0 {
		return false, nil
	}
	rf := min(3, len(md.Brokers))
	rs, err := adm.CreateTopics(ctx, []kafka.TopicSpecification{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: max(rf, 1),
		Config: map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil {
		return false, fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for _, r := range rs {
		if c := r.Error.Code(); c != kafka.ErrNoError && c != kafka.ErrTopicAlreadyExists {
			return false, fmt.Errorf("creating topic %s (compacted): %w; ask the Kafka admins to create it with cleanup.policy=compact", topic, r.Error)
		}
	}
	return true, nil
}

// readTopic reads every partition of topic from the given start offsets up
// to the end it had when reading began, calling fn for each message.
func readTopic(ctx context.Context, base kafka.ConfigMap, topic string, start func(c *kafka.Consumer, parts []kafka.TopicPartition) ([]kafka.TopicPartition, error), fn func(*kafka.Message)) error {
	cc := clone(base)
	cc["group.id"] = "rfidgw-config-tool"
	cc["enable.auto.commit"] = false
	cc["enable.partition.eof"] = true
	cc["go.logs.channel.enable"] = true
	cc["fetch.max.bytes"] = fmt.Sprint(4 * MaxMessageBytes)
	c, err := kafka.NewConsumer(&cc)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer c.Close()
	go drainLogs(c.Logs())
	md, err := c.GetMetadata(&topic, false, min(remaining(ctx), 10000))
	if err != nil {
		return fmt.Errorf("brokers not reachable: %w", err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() != kafka.ErrNoError {
		return fmt.Errorf("topic %s: %w", topic, tm.Error)
	}
	var parts []kafka.TopicPartition
	for _, p := range tm.Partitions {
		parts = append(parts, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
	}
	// Only partitions that hold something past the start are read.
	var want []kafka.TopicPartition
	ends := map[int32]int64{}
	for _, tp := range parts {
		lo, hi, err := c.QueryWatermarkOffsets(topic, tp.Partition, min(remaining(ctx), 10000))
		if err != nil {
			return fmt.Errorf("offsets of %s/%d: %w", topic, tp.Partition, err)
		}
		if hi > lo {
			want = append(want, tp)
			ends[tp.Partition] = hi
		}
	}
	if len(want) == 0 {
		return nil
	}
	if start != nil {
		if want, err = start(c, want); err != nil {
			return err
		}
	}
	var assign []kafka.TopicPartition
	for _, tp := range want {
		if tp.Offset >= 0 && int64(tp.Offset) >= ends[tp.Partition] {
			continue // nothing after the start
		}
		assign = append(assign, tp)
	}
	if len(assign) == 0 {
		return nil
	}
	if err := c.Assign(assign); err != nil {
		return err
	}
	done := map[int32]bool{}
	for len(done) < len(assign) {
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w", topic, ctx.Err())
		}
		switch e := c.Poll(200).(type) {
		case *kafka.Message:
			fn(e)
			if int64(e.TopicPartition.Offset)+1 >= ends[e.TopicPartition.Partition] {
				done[e.TopicPartition.Partition] = true
			}
		case kafka.PartitionEOF:
			done[e.Partition] = true
		case kafka.Error:
			if e.IsFatal() {
				return e
			}
		}
	}
	return nil
}

// highestVersion is the highest version any message on the topic claims.
func highestVersion(ctx context.Context, base kafka.ConfigMap, topic string) (uint64, error) {
	var hi uint64
	err := readTopic(ctx, base, topic, nil, func(m *kafka.Message) {
		if v, ok := PeekVersion(m.Value); ok && v > hi {
			hi = v
		}
	})
	return hi, err
}

// StatusOptions are the flags of `rfidgw config status`.
type StatusOptions struct {
	Brokers    []string
	Librdkafka map[string]string
	Topic      string        // the status topic, default uplink.DefaultStatusTopic
	Since      time.Duration // look back this far (default 10m)
	Timeout    time.Duration
}

// FleetStatus reads the status topic and returns the latest status of every
// gateway that sent one within Since, sorted by gateway id.
func FleetStatus(ctx context.Context, o StatusOptions) ([]uplink.GatewayStatus, error) {
	if o.Topic == "" {
		o.Topic = uplink.DefaultStatusTopic
	}
	if o.Since <= 0 {
		o.Since = 10 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	base, err := toolClientConfig(o.Brokers, o.Librdkafka)
	if err != nil {
		return nil, err
	}
	from := time.Now().Add(-o.Since)
	latest := map[string]uplink.GatewayStatus{}
	err = readTopic(ctx, base, o.Topic, func(c *kafka.Consumer, parts []kafka.TopicPartition) ([]kafka.TopicPartition, error) {
		q := make([]kafka.TopicPartition, len(parts))
		for i, tp := range parts {
			tp.Offset = kafka.Offset(from.UnixMilli())
			q[i] = tp
		}
		got, err := c.OffsetsForTimes(q, remaining(ctx))
		if err != nil {
			return nil, fmt.Errorf("offsets for %s: %w", from.Format(time.RFC3339), err)
		}
		var out []kafka.TopicPartition
		for _, tp := range got {
			if tp.Offset >= 0 { // -1: nothing that recent
				out = append(out, tp)
			}
		}
		return out, nil
	}, func(m *kafka.Message) {
		var s uplink.GatewayStatus
		if json.Unmarshal(m.Value, &s) != nil || s.Gateway == "" {
			return
		}
		if prev, ok := latest[s.Gateway]; !ok || !s.Time.Before(prev.Time) {
			latest[s.Gateway] = s
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]uplink.GatewayStatus, 0, len(latest))
	for _, s := range latest {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Gateway < out[j].Gateway })
	return out, nil
}

// WhoAmI is "user@host" for PushOptions.By.
func WhoAmI() string {
	u := os.Getenv("USER")
	if cur, err := user.Current(); u == "" && err == nil {
		u = cur.Username
	}
	if u == "" {
		u = "unknown"
	}
	h, _ := os.Hostname()
	return u + "@" + h
}

// CheckTopic is `rfidgw check`'s probe of the config topic with the
// uplink's brokers and credentials: it exists and can be read, and which
// versions are pushed for this gateway and for the fleet. A topic that does
// not exist yet is not a failure (the first push creates it; the gateway
// runs its local file until then).
func CheckTopic(ctx context.Context, ucfg uplink.Config, topic, gatewayID string) (string, error) {
	base, err := uplink.ClientConfig(ucfg)
	if err != nil {
		return "", err
	}
	cc := clone(base)
	cc["group.id"] = "rfidgw-config-check"
	cc["go.logs.channel.enable"] = true
	c, err := kafka.NewConsumer(&cc)
	if err != nil {
		return "", err
	}
	go drainLogs(c.Logs())
	md, err := c.GetMetadata(&topic, false, min(remaining(ctx), 10000))
	c.Close()
	if err != nil {
		return "", fmt.Errorf("brokers not reachable: %w", err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() == kafka.ErrUnknownTopicOrPart || tm.Error.Code() == kafka.ErrUnknownTopic {
		return "does not exist yet (the first rfidgw config push creates it); the local file runs until then", nil
	}
	if tm.Error.Code() != kafka.ErrNoError {
		return "", fmt.Errorf("topic %s: %w", topic, tm.Error)
	}
	latest := map[string]uint64{}
	n := 0
	err = readTopic(ctx, base, topic, nil, func(m *kafka.Message) {
		n++
		if k := string(m.Key); k == gatewayID || k == FleetKey {
			v, _ := PeekVersion(m.Value)
			latest[k] = v
		}
	})
	if err != nil {
		return "", err
	}
	desc := func(k string) string {
		if v, ok := latest[k]; ok {
			return fmt.Sprintf("version %d", v)
		}
		return "none"
	}
	return fmt.Sprintf("%d partition(s), %d message(s); pushed for all: %s, for %s: %s", len(tm.Partitions), n, desc(FleetKey), gatewayID, desc(gatewayID)), nil
}
