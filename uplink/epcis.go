package uplink

import (
	"log/slog"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/epcis"
)

// The EPCIS output (Config.EPCISTopic): every movement record is also
// produced to the EPCIS topic as a GS1 EPCIS 2.0 ObjectEvent (JSON-LD, with
// its @context), keyed by the same EPC. Both messages go through the same
// idempotent producer in seq order, so each topic keeps the order per EPC.
// A record is acknowledged to the buffer only when every message made of
// it was acknowledged by Kafka; any failure rewinds as before and both are
// produced again (at least once on each topic). Gap records have no EPCIS
// form and go to the events topic only.

// HeaderEPCISType is the ce_type of EPCIS messages.
const HeaderEPCISType = "rfidgw.epcis.object_event.v1"

// partOpaque is the Opaque of the messages of a record when the EPCIS
// output is on: the record's seq and how many messages it was produced as.
type partOpaque struct {
	seq   uint64
	parts uint8
}

// epcisBuilder builds the EPCIS message of a record next to the events
// message that messageBuilder made of it (it reuses that one's headers).
type epcisBuilder struct {
	topic   string
	enc     *epcis.Encoder
	msg     kafka.Message
	headers [6]kafka.Header
	value   []byte
	ceType  []byte
	ctype   []byte
}

func newEPCISBuilder(topic string, enc *epcis.Encoder) *epcisBuilder {
	b := &epcisBuilder{topic: topic, enc: enc, ceType: []byte(HeaderEPCISType), ctype: []byte("application/ld+json")}
	b.msg.TopicPartition = kafka.TopicPartition{Topic: &b.topic, Partition: kafka.PartitionAny}
	return b
}

// build returns the EPCIS message of r, valid until the next call, or nil
// when r has none (a gap) or cannot be read back (then err says why).
// events is the events message just built from r.
func (b *epcisBuilder) build(r *buffer.Record, events *kafka.Message) (*kafka.Message, error) {
	if r.Type == "gap" {
		return nil, nil
	}
	// The events message carries the id as Kafka gets it (with the
	// stream epoch); the EPCIS form must name the same id.
	e, err := epcis.ParseEvent(events.Value)
	if err != nil {
		return nil, err
	}
	v, ok, err := b.enc.AppendJSON(b.value[:0], &e)
	if err != nil || !ok {
		return nil, err
	}
	b.value = v
	copy(b.headers[:], events.Headers)
	for i := range b.headers {
		switch b.headers[i].Key {
		case HeaderType:
			b.headers[i].Value = b.ceType
		case HeaderContentType:
			b.headers[i].Value = b.ctype
		}
	}
	b.msg.Key = r.Key
	b.msg.Value = v
	b.msg.Headers = b.headers[:len(events.Headers)]
	b.msg.Opaque = partOpaque{seq: r.Seq, parts: 2}
	return &b.msg, nil
}

// partDone counts a successful report of one message of a record and says
// whether all of the record's messages have now been acknowledged.
func (f *Forwarder) partDone(o partOpaque) bool {
	if o.parts <= 1 {
		return true
	}
	f.pendMu.Lock()
	defer f.pendMu.Unlock()
	n := f.pend[o.seq] + 1
	if n >= o.parts {
		delete(f.pend, o.seq)
		return true
	}
	f.pend[o.seq] = n
	return false
}

// clearPending forgets partial acknowledgements; called at a rewind, when
// every produced message has been reported (or the producer closed), so
// that the records go out again as a whole.
func (f *Forwarder) clearPending() {
	f.pendMu.Lock()
	clear(f.pend)
	f.pendMu.Unlock()
}

// epcisSkip logs a record whose EPCIS form could not be made: it goes to
// the events topic only. Records are rfidgw's own JSON, so this means a bug
// or a damaged buffer, not bad input from outside.
func (f *Forwarder) epcisSkip(r *buffer.Record, err error) {
	f.m.UplinkErrors.WithLabelValues("epcis").Inc()
	f.logEvery("epcis", slog.LevelError, "uplink: event has no EPCIS form; it goes to the events topic only", "seq", r.Seq, "err", err)
}
