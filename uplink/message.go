package uplink

import (
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/buffer"
)

// Header names of the message (CloudEvents Kafka binary mode, docs/events.md).
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderTime        = "ce_time"
	HeaderContentType = "content-type"
)

// ceTimeLayout is RFC 3339 in UTC with milliseconds, like the event's time.
const ceTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// EventID is the id of event seq of a gateway: "<gateway>-<seq>".
func EventID(gateway string, seq uint64) string {
	return gateway + "-" + strconv.FormatUint(seq, 10)
}

// messageBuilder fills one reusable kafka.Message per record: Produce copies
// key, value and headers, so nothing of it is retained after the call.
type messageBuilder struct {
	topic       string
	idPrefix    []byte // "<gateway>-"
	specVersion []byte
	source      []byte
	contentType []byte
	types       map[string][]byte // event type -> ce_type value
	msg         kafka.Message
	headers     [6]kafka.Header
	scratch     []byte
}

func newMessageBuilder(topic, gateway string) *messageBuilder {
	b := &messageBuilder{
		topic:       topic,
		idPrefix:    []byte(gateway + "-"),
		specVersion: []byte("1.0"),
		source:      []byte("rfidgw/" + gateway),
		contentType: []byte("application/json"),
		types:       map[string][]byte{},
	}
	b.msg.TopicPartition = kafka.TopicPartition{Topic: &b.topic, Partition: kafka.PartitionAny}
	b.headers[0].Key = HeaderSpecVersion
	b.headers[1].Key = HeaderID
	b.headers[2].Key = HeaderSource
	b.headers[3].Key = HeaderType
	b.headers[4].Key = HeaderTime
	b.headers[5].Key = HeaderContentType
	return b
}

// build returns the message for r, valid until the next call.
func (b *messageBuilder) build(r *buffer.Record) *kafka.Message {
	ceType, ok := b.types[r.Type]
	if !ok {
		ceType = []byte("rfidgw." + r.Type + ".v1")
		b.types[r.Type] = ceType
	}
	// ce_id and ce_time share one scratch buffer: both are copied by Produce.
	s := append(b.scratch[:0], b.idPrefix...)
	s = strconv.AppendUint(s, r.Seq, 10)
	idEnd := len(s)
	s = r.Time.UTC().AppendFormat(s, ceTimeLayout)
	b.scratch = s

	b.headers[0].Value = b.specVersion
	b.headers[1].Value = s[:idEnd:idEnd]
	b.headers[2].Value = b.source
	b.headers[3].Value = ceType
	b.headers[4].Value = s[idEnd:]
	b.headers[5].Value = b.contentType
	b.msg.Key = r.Key
	b.msg.Value = r.Value
	b.msg.Headers = b.headers[:]
	b.msg.Opaque = r.Seq
	return &b.msg
}

// statusMessage is a gateway status message for the status topic.
func statusMessage(topic *string, gateway string, value []byte, at time.Time) *kafka.Message {
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: topic, Partition: kafka.PartitionAny},
		Key:            []byte(gateway),
		Value:          value,
		Headers: []kafka.Header{
			{Key: HeaderSpecVersion, Value: []byte("1.0")},
			{Key: HeaderID, Value: []byte(gateway + "-status-" + strconv.FormatInt(at.UnixNano(), 10))},
			{Key: HeaderSource, Value: []byte("rfidgw/" + gateway)},
			{Key: HeaderType, Value: []byte("rfidgw.gateway_status.v1")},
			{Key: HeaderTime, Value: []byte(at.UTC().Format(ceTimeLayout))},
			{Key: HeaderContentType, Value: []byte("application/json")},
		},
		Opaque: statusOpaque{},
	}
}

// statusOpaque marks the delivery reports of status messages.
type statusOpaque struct{}
