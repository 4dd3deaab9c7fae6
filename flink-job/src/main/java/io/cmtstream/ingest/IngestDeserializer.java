package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;
import io.cmtstream.registry.RegistryUnavailableException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.nio.ByteBuffer;
import java.util.function.ToLongFunction;

/**
 * Turns every Kafka record into an {@link Ingested}: decoded and validated, or a DeadLetter carrying topic,
 * partition, offset, reason and the raw bytes. It never throws for bad data, so one bad record cannot stop the job;
 * in schema registry mode it blocks while the registry is unreachable (see {@link RegistryDecoder}).
 */
public final class IngestDeserializer<T extends SpecificRecord> implements KafkaRecordDeserializationSchema<Ingested<T>> {
    private final RecordDecoder.Factory<T> decoders;
    private final RecordValidator<T> validator;
    private final SerializableEventTime<T> eventTime;
    private final TypeInformation<Ingested<T>> producedType;
    private transient RecordDecoder<T> decoder;

    /** Event-time extractor that Flink can ship with the job graph. */
    public interface SerializableEventTime<T> extends ToLongFunction<T>, java.io.Serializable {}

    /** Plain Avro values of {@code type}. */
    public IngestDeserializer(Class<T> type, RecordValidator<T> validator, SerializableEventTime<T> eventTime,
                              TypeInformation<Ingested<T>> producedType) {
        this(() -> new AvroDecoder<>(type), validator, eventTime, producedType);
    }

    /** Values decoded by the decoders {@code decoders} makes (e.g. {@link RegistryDecoder}). */
    public IngestDeserializer(RecordDecoder.Factory<T> decoders, RecordValidator<T> validator,
                              SerializableEventTime<T> eventTime, TypeInformation<Ingested<T>> producedType) {
        this.decoders = decoders;
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
            decoder = decoders.create();
        }
        try {
            T decoded = validator.validate(decoder.decode(value));
            return Ingested.valid(decoded, eventTime.applyAsLong(decoded)).from(topic, partition, offset, key, value);
        } catch (InvalidRecordException e) {
            return rejected(topic, partition, offset, key, value, e.getMessage());
        } catch (RegistryUnavailableException e) {
            // Only an interrupt (the task cancelled) ends the decoder's wait for the registry: fail the task, so
            // the record is read again after the restore rather than dead-lettered for the registry's sake.
            throw e;
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
