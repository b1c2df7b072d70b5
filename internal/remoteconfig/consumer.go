package remoteconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/rfidgw/rfidgw/uplink"
)

// topicRetry is how often a missing or unreachable config topic is asked
// for again.
const topicRetry = 2 * time.Second

// Consumer reads the config topic for one gateway (confluent-kafka-go, the
// product's Kafka client). It joins no consumer group and commits nothing:
// every start reads the compacted topic from the beginning, keeps the last
// message of the gateway's key and of FleetKey, hands those to the manager
// (fleet first), and then every new message of those keys as it comes.
type Consumer struct {
	conf  kafka.ConfigMap
	topic string
	gw    string
	log   *slog.Logger
}

// NewConsumer prepares the consumer with the uplink's brokers and
// security settings.
func NewConsumer(ucfg uplink.Config, topic, gatewayID string, log *slog.Logger) (*Consumer, error) {
	cm, err := uplink.ClientConfig(ucfg)
	if err != nil {
		return nil, err
	}
	setDefault := func(k string, v kafka.ConfigValue) {
		if _, ok := cm[k]; !ok {
			cm[k] = v
		}
	}
	// librdkafka needs a group id to consume even with manual assignment;
	// nothing is ever committed under it.
	cm["group.id"] = "rfidgw-config-" + gatewayID
	cm["enable.auto.commit"] = false
	cm["enable.auto.offset.store"] = false
	cm["auto.offset.reset"] = "earliest"
	cm["enable.partition.eof"] = true
	cm["go.logs.channel.enable"] = true
	cm["client.id"] = "rfidgw-" + gatewayID + "-config"
	setDefault("reconnect.backoff.max.ms", "1000")
	setDefault("fetch.wait.max.ms", "500")
	setDefault("fetch.max.bytes", fmt.Sprint(4*MaxMessageBytes))
	// Producer tuning passed through for the uplink means nothing here.
	for _, k := range []string{"linger.ms", "compression.type", "queue.buffering.max.messages", "partitioner",
		"message.timeout.ms", "batch.num.messages", "batch.size", "queue.buffering.max.ms", "queue.buffering.max.kbytes",
		"max.in.flight.requests.per.connection", "enable.idempotence", "acks", "request.required.acks", "retries", "message.send.max.retries"} {
		delete(cm, k)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Consumer{conf: cm, topic: topic, gw: gatewayID, log: log.With("component", "remote_config", "topic", topic)}, nil
}

// Run consumes until ctx ends, handing messages to offer (which blocks
// while the manager decides, including the health gate). Kafka being away
// is not an error: the gateway runs its last good config meanwhile.
func (c *Consumer) Run(ctx context.Context, offer func(ctx context.Context, key string, value []byte) error) error {
	cm := kafka.ConfigMap{}
	for k, v := range c.conf {
		cm[k] = v
	}
	cons, err := kafka.NewConsumer(&cm)
	if err != nil {
		return fmt.Errorf("remote config consumer: %w", err)
	}
	defer cons.Close()
	go func() {
		for l := range cons.Logs() {
			c.log.Debug("librdkafka: "+l.Message, "tag", l.Tag)
		}
	}()

	parts, err := c.waitTopic(ctx, cons)
	if err != nil {
		return nil // ctx ended
	}
	tps := make([]kafka.TopicPartition, len(parts))
	for i, p := range parts {
		tps[i] = kafka.TopicPartition{Topic: &c.topic, Partition: p, Offset: kafka.OffsetBeginning}
	}
	if err := cons.Assign(tps); err != nil {
		return fmt.Errorf("remote config consumer: assign %s: %w", c.topic, err)
	}
	c.log.Info("reading the config topic", "partitions", len(parts))

	eof := map[int32]bool{}
	latest := map[string][]byte{}
	caughtUp := false
	lastErr := ""
	for ctx.Err() == nil {
		switch e := cons.Poll(500).(type) {
		case *kafka.Message:
			key := string(e.Key)
			if key != c.gw && key != FleetKey {
				continue
			}
			if !caughtUp {
				latest[key] = e.Value
				continue
			}
			if err := offer(ctx, key, e.Value); err != nil && ctx.Err() == nil {
				c.log.Debug("config message not applied", "key", key, "offset", e.TopicPartition.Offset, "err", err)
			}
		case kafka.PartitionEOF:
			if caughtUp {
				continue
			}
			eof[e.Partition] = true
			if len(eof) < len(parts) {
				continue
			}
			caughtUp = true
			c.log.Info("config topic read up to its end", "fleet", latest[FleetKey] != nil, "own", latest[c.gw] != nil)
			for _, k := range []string{FleetKey, c.gw} {
				if v, ok := latest[k]; ok {
					if err := offer(ctx, k, v); err != nil && ctx.Err() == nil {
						c.log.Debug("config message not applied", "key", k, "err", err)
					}
				}
			}
			latest = nil
		case kafka.Error:
			if msg := e.Error(); msg != lastErr {
				lastErr = msg
				c.log.Warn("config topic: Kafka client error; the config in effect stays", "err", e)
			}
			if e.IsFatal() {
				return fmt.Errorf("remote config consumer: %w", e)
			}
		}
	}
	return nil
}

// waitTopic returns the topic's partitions once the brokers know it.
func (c *Consumer) waitTopic(ctx context.Context, cons *kafka.Consumer) ([]int32, error) {
	warned := ""
	for {
		md, err := cons.GetMetadata(&c.topic, false, int(topicRetry/time.Millisecond))
		if err == nil {
			if tm, ok := md.Topics[c.topic]; ok && tm.Error.Code() == kafka.ErrNoError && len(tm.Partitions) > 0 {
				out := make([]int32, len(tm.Partitions))
				for i, p := range tm.Partitions {
					out[i] = p.ID
				}
				return out, nil
			} else if ok && tm.Error.Code() != kafka.ErrNoError {
				err = tm.Error
			} else {
				err = errors.New("topic not found")
			}
		}
		if msg := err.Error(); msg != warned {
			warned = msg
			c.log.Warn("config topic not available; running the config in effect and retrying", "err", err, "retry_every", topicRetry)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(topicRetry):
		}
	}
}
