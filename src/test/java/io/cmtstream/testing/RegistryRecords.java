package io.cmtstream.testing;

import io.cmtstream.avro.Document;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.registry.RegistryFraming;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * Records as a producer on a schema registry writes them: framed with a schema id, with the job's own schemas or
 * with an evolved Document schema (a newer producer's).
 */
public final class RegistryRecords {
    private RegistryRecords() {}

    /**
     * Document as a newer producer writes it: an added optional field ({@code language}, which the job does not
     * know) and the defaulted {@code title} and {@code source} removed.
     */
    public static final Schema EVOLVED_DOCUMENT = new Schema.Parser().parse("""
            {"type": "record", "name": "Document", "namespace": "io.cmtstream.avro", "fields": [
              {"name": "tenant", "type": "string"},
              {"name": "id", "type": "string"},
              {"name": "language", "type": ["null", "string"], "default": null},
              {"name": "text", "type": "string"},
              {"name": "publishedAt", "type": {"type": "long", "logicalType": "timestamp-millis"}},
              {"name": "op", "type": {"type": "enum", "name": "DocumentOp", "symbols": ["UPSERT", "DELETE"],
                "default": "UPSERT"}, "default": "UPSERT"}
            ]}""");

    /** A Document without {@code text} and with no default for it: the job cannot read it. */
    public static final Schema INCOMPATIBLE_DOCUMENT = new Schema.Parser().parse("""
            {"type": "record", "name": "Document", "namespace": "io.cmtstream.avro", "fields": [
              {"name": "tenant", "type": "string"},
              {"name": "id", "type": "string"},
              {"name": "publishedAt", "type": {"type": "long", "logicalType": "timestamp-millis"}}
            ]}""");

    /** The Avro binary of a document written with {@link #EVOLVED_DOCUMENT}. */
    public static byte[] evolvedDocument(String tenant, String id, String text, String language, Instant publishedAt) {
        GenericRecord r = new GenericData.Record(EVOLVED_DOCUMENT);
        r.put("tenant", tenant);
        r.put("id", id);
        r.put("language", language);
        r.put("text", text);
        r.put("publishedAt", publishedAt.toEpochMilli());
        r.put("op", new GenericData.EnumSymbol(EVOLVED_DOCUMENT.getField("op").schema(), "UPSERT"));
        return write(EVOLVED_DOCUMENT, r);
    }

    /** {@code record} in the job's own schema, framed with {@code schemaId}. */
    public static byte[] framed(int schemaId, SpecificRecord record) {
        return RegistryFraming.frame(schemaId, AvroBytes.encode(record));
    }

    /** Avro binary of {@code record} written with {@code schema}. */
    public static byte[] write(Schema schema, GenericRecord record) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        try {
            new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The Document schema the job reads with. */
    public static Schema jobDocument() {
        return Document.getClassSchema();
    }
}
