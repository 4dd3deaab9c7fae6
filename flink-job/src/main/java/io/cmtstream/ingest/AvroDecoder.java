package io.cmtstream.ingest;

import org.apache.avro.AvroRuntimeException;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;

import java.io.IOException;

/**
 * Decodes plain Avro binary (no registry framing) into a generated record, strictly: bytes that do not parse, or
 * that parse but leave bytes over (a record written with another schema), are refused with a reason.
 *
 * <p>Not thread-safe (reuses its decoder); each Flink subtask owns one.
 */
public final class AvroDecoder<T extends SpecificRecord> {
    private final SpecificDatumReader<T> reader;
    private final String typeName;
    private BinaryDecoder decoder;

    public AvroDecoder(Class<T> type) {
        this.reader = new SpecificDatumReader<>(type);
        this.typeName = type.getSimpleName();
    }

    public T decode(byte[] bytes) throws InvalidRecordException {
        if (bytes == null || bytes.length == 0) {
            throw new InvalidRecordException(Rejection.MALFORMED_AVRO, "empty record value, expected an Avro " + typeName);
        }
        decoder = DecoderFactory.get().binaryDecoder(bytes, decoder);
        T value;
        try {
            value = reader.read(null, decoder);
        } catch (IOException | AvroRuntimeException | IndexOutOfBoundsException | NegativeArraySizeException e) {
            throw new InvalidRecordException(Rejection.MALFORMED_AVRO,
                    "not an Avro " + typeName + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        try {
            if (!decoder.isEnd()) {
                throw new InvalidRecordException(Rejection.WRONG_SCHEMA,
                        "bytes left over after reading an Avro " + typeName + ": written with another schema?");
            }
        } catch (IOException e) {
            throw new InvalidRecordException(Rejection.MALFORMED_AVRO, e.getMessage());
        }
        return value;
    }
}
