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

// EventID is the id of event seq of a gateway's stream epoch:
// "<gateway>-<epoch>-<seq>", or "<gateway>-<seq>" without an epoch (events of
// gateways before stream epochs).
func EventID(gateway, epoch string, seq uint64) string {
	if epoch == "" {
		return gateway + "-" + strconv.FormatUint(seq, 10)
	}
	return gateway + "-" + epoch + "-" + strconv.FormatUint(seq, 10)
}

// EpochSource is implemented by a Queue whose records belong to stream
// epochs (buffer.Queue). With it, the forwarder sends ids of the form
// "<gateway>-<epoch>-<seq>" and an "epoch" field right after "id"; without it
// (test queues) ids stay "<gateway>-<seq>".
type EpochSource interface {
	Epoch() buffer.Epoch
	EpochOf(seq uint64) string
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

	epochs   EpochSource  // nil: no epochs
	cur      buffer.Epoch // the current epoch (records from its FirstSeq on)
	valueBuf []byte
}

// withEpochs makes the builder put each record's epoch into its id and value.
func (b *messageBuilder) withEpochs(es EpochSource) *messageBuilder {
	b.epochs = es
	b.cur = es.Epoch()
	return b
}

func (b *messageBuilder) epochOf(seq uint64) string {
	if b.epochs == nil {
		return ""
	}
	if b.cur.ID != "" && seq >= b.cur.FirstSeq {
		return b.cur.ID
	}
	return b.epochs.EpochOf(seq)
}

// AddEpoch returns a stored event value as the forwarder sends it: with
// the epoch in its id and an "epoch" field (`rfidgw buffer dump` uses it).
func AddEpoch(value []byte, gateway, epoch string, seq uint64) []byte {
	if epoch == "" {
		return value
	}
	b := messageBuilder{idPrefix: []byte(gateway + "-")}
	return b.addEpoch(value, epoch, seq)
}

// addEpoch rewrites a stored event value that starts with
// {"schema":1,"id":"<gateway>-<seq>" into
// {"schema":1,"id":"<gateway>-<epoch>-<seq>","epoch":"<epoch>" and the rest
// unchanged. A value of another form is returned as it is.
func (b *messageBuilder) addEpoch(value []byte, epoch string, seq uint64) []byte {
	const head = `{"schema":1,"id":"`
	v := b.valueBuf[:0]
	v = append(v, head...)
	v = append(v, b.idPrefix...)
	v = strconv.AppendUint(v, seq, 10)
	v = append(v, '"')
	old := len(v)
	if len(value) < old || string(value[:old]) != string(v) {
		return value
	}
	v = append(v[:len(head)], b.idPrefix...)
	v = append(v, epoch...)
	v = append(v, '-')
	v = strconv.AppendUint(v, seq, 10)
	v = append(v, `","epoch":"`...)
	v = append(v, epoch...)
	v = append(v, '"')
	v = append(v, value[old:]...)
	b.valueBuf = v
	return v
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
	epoch := b.epochOf(r.Seq)
	s := append(b.scratch[:0], b.idPrefix...)
	if epoch != "" {
		s = append(s, epoch...)
		s = append(s, '-')
	}
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
	if epoch != "" {
		b.msg.Value = b.addEpoch(r.Value, epoch, r.Seq)
	}
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
