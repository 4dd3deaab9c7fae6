package io.cmtstream.ingest;

import java.io.Serializable;

/**
 * Turns a Kafka record value into a record of the job's schema, or refuses it with a reason: plain Avro
 * ({@link AvroDecoder}) or framed for a schema registry ({@link RegistryDecoder}). Not thread-safe; each source
 * subtask makes its own with a {@link Factory}.
 */
public interface RecordDecoder<T> {
    T decode(byte[] bytes) throws InvalidRecordException;

    /** Makes a subtask's decoder; shipped with the job graph. */
    @FunctionalInterface
    interface Factory<T> extends Serializable {
        RecordDecoder<T> create();
    }
}
