package io.cmtstream.ingest;

import io.cmtstream.registry.RegistryFraming;
import io.cmtstream.registry.RegistryRetry;
import io.cmtstream.registry.RegistrySettings;
import io.cmtstream.registry.SchemaRegistryClient;
import io.cmtstream.registry.UnknownSchemaIdException;
import io.cmtstream.registry.UnusableSchemaException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;

import java.util.HashMap;
import java.util.Map;

/**
 * Decodes records framed for a schema registry ({@link RegistryFraming}): the writer's schema is fetched by the
 * frame's id (cached by the client) and resolved against the job's own schema of {@code T}, so producers may
 * evolve their schema as Avro allows (fields added with or without defaults that the job ignores, fields the job
 * has defaults for removed). A record without the frame is refused as MALFORMED_AVRO, an id the registry does not
 * have as UNKNOWN_SCHEMA_ID, a writer schema the job cannot read with as WRONG_SCHEMA; while the registry is
 * unreachable, {@link #decode} waits ({@link RegistryRetry}) and refuses nothing.
 *
 * <p>The bytes after the header are walked by {@link AvroBounds} against the writer's schema before Avro reads
 * them, as for plain records. Not thread-safe; each source subtask owns one.
 */
public final class RegistryDecoder<T extends SpecificRecord> implements RecordDecoder<T> {
    private final Schema readerSchema;
    private final String typeName;
    private final SchemaRegistryClient client;
    private final RegistryRetry retry;
    /** Per writer schema id: how to read its records, or why they cannot be read. */
    private final Map<Integer, Resolved<T>> resolved = new HashMap<>();
    private BinaryDecoder decoder;

    private record Resolved<T>(AvroBounds bounds, SpecificDatumReader<T> reader, String problem) {}

    public RegistryDecoder(Class<T> type, SchemaRegistryClient client, RegistryRetry retry) {
        this.readerSchema = SpecificData.get().getSchema(type);
        this.typeName = type.getSimpleName();
        this.client = client;
        this.retry = retry;
    }

    /** Makes each subtask's decoder, with its own client of the registry {@code settings} name. */
    public static <T extends SpecificRecord> RecordDecoder.Factory<T> factory(Class<T> type, RegistrySettings settings) {
        return () -> new RegistryDecoder<>(type, new SchemaRegistryClient(settings),
                new RegistryRetry(settings.maxBackoffMillis));
    }

    @Override
    public T decode(byte[] bytes) throws InvalidRecordException {
        if (!RegistryFraming.isFramed(bytes)) {
            throw new InvalidRecordException(Rejection.MALFORMED_AVRO, (bytes == null || bytes.length == 0
                    ? "empty record value" : "not framed for the schema registry (magic byte 0, 4-byte schema id)")
                    + ", expected a registry-framed Avro " + typeName);
        }
        int id = RegistryFraming.schemaId(bytes);
        Resolved<T> how = resolved.get(id);
        if (how == null) {
            how = resolve(id);
        }
        if (how.problem != null) {
            throw new InvalidRecordException(Rejection.WRONG_SCHEMA, how.problem);
        }
        how.bounds.check(bytes, RegistryFraming.HEADER_BYTES);
        decoder = DecoderFactory.get().binaryDecoder(bytes, RegistryFraming.HEADER_BYTES,
                bytes.length - RegistryFraming.HEADER_BYTES, decoder);
        return AvroDecoder.readWhole(how.reader, decoder, typeName);
    }

    private Resolved<T> resolve(int id) throws InvalidRecordException {
        Schema writer;
        try {
            writer = retry.untilAvailable("schema id " + id + " for a " + typeName, () -> client.schemaById(id));
        } catch (UnknownSchemaIdException e) {
            // Not cached here: the client remembers unknown ids for a while and then asks again.
            throw new InvalidRecordException(Rejection.UNKNOWN_SCHEMA_ID, e.getMessage());
        } catch (UnusableSchemaException e) {
            return remember(id, new Resolved<>(null, null, e.getMessage()));
        }
        SchemaCompatibility.SchemaPairCompatibility compatibility =
                SchemaCompatibility.checkReaderWriterCompatibility(readerSchema, writer);
        if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            return remember(id, new Resolved<>(null, null, "schema id " + id + " (" + writer.getFullName()
                    + ") cannot be read as a " + typeName + ": " + compatibility.getDescription()));
        }
        return remember(id, new Resolved<>(new AvroBounds(writer),
                new SpecificDatumReader<>(writer, readerSchema), null));
    }

    private Resolved<T> remember(int id, Resolved<T> how) {
        resolved.put(id, how);
        return how;
    }
}
