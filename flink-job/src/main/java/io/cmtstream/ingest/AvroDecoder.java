package io.cmtstream.ingest;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;

import java.io.IOException;

/**
 * Decodes plain Avro binary (no registry framing) into a generated record, strictly: bytes that do not parse, or
 * that parse but leave bytes over (a record written with another schema), are refused with a reason.
 *
 * <p>{@link AvroBounds} walks the bytes first, so no length or count prefix makes Avro allocate more than the
 * record's own size; anything Avro still throws (it throws UnsupportedOperationException, not an Avro exception,
 * for lengths over 2^31) is refused as well, since one exception escaping would fail the source and the record
 * would be replayed after every restart.
 *
 * <p>Not thread-safe (reuses its decoder); each Flink subtask owns one.
 */
public final class AvroDecoder<T extends SpecificRecord> implements RecordDecoder<T> {
    private final SpecificDatumReader<T> reader;
    private final AvroBounds bounds;
    private final String typeName;
    private BinaryDecoder decoder;

    public AvroDecoder(Class<T> type) {
        this.reader = new SpecificDatumReader<>(type);
        this.bounds = new AvroBounds(reader.getSchema());
        this.typeName = type.getSimpleName();
    }

    @Override
    public T decode(byte[] bytes) throws InvalidRecordException {
        if (bytes == null || bytes.length == 0) {
            throw new InvalidRecordException(Rejection.MALFORMED_AVRO, "empty record value, expected an Avro " + typeName);
        }
        bounds.check(bytes);
        decoder = DecoderFactory.get().binaryDecoder(bytes, decoder);
        return readWhole(reader, decoder, typeName);
    }

    /**
     * Reads one {@code typeName} from {@code decoder} and refuses it unless it takes exactly the decoder's bytes;
     * the bytes must have passed an {@link AvroBounds} check of the schema they were written with.
     */
    static <T> T readWhole(SpecificDatumReader<T> reader, BinaryDecoder decoder, String typeName)
            throws InvalidRecordException {
        T value;
        try {
            value = reader.read(null, decoder);
        } catch (IOException | RuntimeException e) {
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
