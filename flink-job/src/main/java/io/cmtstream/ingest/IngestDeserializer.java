package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.nio.ByteBuffer;
import java.util.function.ToLongFunction;

/**
 * Turns every Kafka record into an {@link Ingested}: decoded and validated, or a DeadLetter carrying topic,
 * partition, offset, reason and the raw bytes. It never throws for bad data, so one bad record cannot stop the job.
 */
public final class IngestDeserializer<T extends SpecificRecord> implements KafkaRecordDeserializationSchema<Ingested<T>> {
    private final Class<T> type;
    private final RecordValidator<T> validator;
    private final SerializableEventTime<T> eventTime;
    private final TypeInformation<Ingested<T>> producedType;
    private transient AvroDecoder<T> decoder;

    /** Event-time extractor that Flink can ship with the job graph. */
    public interface SerializableEventTime<T> extends ToLongFunction<T>, java.io.Serializable {}

    public IngestDeserializer(Class<T> type, RecordValidator<T> validator, SerializableEventTime<T> eventTime,
                              TypeInformation<Ingested<T>> producedType) {
        this.type = type;
        this.validator = validator;
        this.eventTime = eventTime;
        this.producedType = producedType;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Ingested<T>> out) {
        out.collect(ingest(record.topic(), record.partition(), record.offset(), record.key(), record.value()));
    }

    /** The decision for one record; public so it can be tested without a broker. */
    public Ingested<T> ingest(String topic, int partition, long offset, byte[] key, byte[] value) {
        if (decoder == null) {
            decoder = new AvroDecoder<>(type);
        }
        try {
            T decoded = validator.validate(decoder.decode(value));
            return Ingested.valid(decoded, eventTime.applyAsLong(decoded)).from(topic, partition, offset, key, value);
        } catch (InvalidRecordException e) {
            return rejected(topic, partition, offset, key, value, e.getMessage());
        } catch (RuntimeException e) {
            // A check or the event-time extractor threw instead of deciding: an exception escaping here would fail
            // the source, and the record would be replayed after every restart.
            return rejected(topic, partition, offset, key, value, Rejection.VALIDATION_ERROR.reason(
                    e.getClass().getSimpleName() + ": " + e.getMessage()));
        }
    }

    private static <T> Ingested<T> rejected(String topic, int partition, long offset, byte[] key, byte[] value,
                                            String reason) {
        return Ingested.rejected(DeadLetter.newBuilder()
                .setTopic(topic)
                .setPartition(partition)
                .setOffset(offset)
                .setReason(reason)
                .setKey(key == null ? null : ByteBuffer.wrap(key))
                .setPayload(value == null ? null : ByteBuffer.wrap(value))
                .setFailedAt(java.time.Instant.now())
                .build());
    }

    @Override
    public TypeInformation<Ingested<T>> getProducedType() {
        return producedType;
    }
}
