package io.cmtstream.registry;

import org.apache.avro.Schema;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes a sink's records framed for the schema registry ({@link RegistryFraming}) with the id of the job's own
 * schema of {@code type} under the subject {@code <topic>-value} (the topic-name strategy): registered there on
 * first use when {@link RegistrySettings#autoRegister}, else looked up (and the job fails at its first record,
 * naming the subject, when it is not there). While the registry is unavailable, the first record waits
 * ({@link RegistryRetry}); the id is then kept for the life of the subtask. One per sink subtask.
 */
public final class RegistrySerializationSchema<T extends SpecificRecord> implements SerializationSchema<T> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(RegistrySerializationSchema.class);

    private final Class<T> type;
    private final String subject;
    private final RegistrySettings settings;
    private transient SchemaRegistryClient client;
    private transient SpecificDatumWriter<T> writer;
    private transient Schema schema;
    private transient ByteArrayOutputStream buffer;
    private transient BinaryEncoder encoder;
    /** Valid once {@link #writer} is set (a transient field is 0, not its initializer's value, after shipping). */
    private transient int schemaId;

    public RegistrySerializationSchema(Class<T> type, String topic, RegistrySettings settings) {
        this.type = type;
        this.subject = subject(topic);
        this.settings = settings;
    }

    /** The subject of a topic's values under the topic-name strategy. */
    public static String subject(String topic) {
        return topic + "-value";
    }

    /** For a test that passes its own client. */
    RegistrySerializationSchema(Class<T> type, String topic, SchemaRegistryClient client, RegistrySettings settings) {
        this(type, topic, settings);
        this.client = client;
    }

    @Override
    public void open(InitializationContext context) {
        // The id is resolved at the first record, not here: a registry down while the job starts must not fail
        // the sink's start, and the sources wait for it anyway.
    }

    @Override
    public byte[] serialize(T element) {
        if (writer == null) {
            resolve();
        }
        buffer.reset();
        buffer.write(new byte[RegistryFraming.HEADER_BYTES], 0, RegistryFraming.HEADER_BYTES);
        encoder = EncoderFactory.get().binaryEncoder(buffer, encoder);
        try {
            writer.write(element, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] out = buffer.toByteArray();
        RegistryFraming.writeHeader(schemaId, out);
        return out;
    }

    /** The id the records are framed with; -1 before the first record. */
    public int schemaId() {
        return writer == null ? -1 : schemaId;
    }

    private void resolve() {
        schema = SpecificData.get().getSchema(type);
        buffer = new ByteArrayOutputStream(256);
        RegistryRetry retry = new RegistryRetry(settings.maxBackoffMillis);
        String what = (settings.autoRegister ? "register " : "look up ") + schema.getName() + " under " + subject;
        schemaId = retry.untilAvailable(what, () -> {
            if (client == null) {
                client = new SchemaRegistryClient(settings);
            }
            return settings.autoRegister ? client.register(subject, schema) : client.lookup(subject, schema);
        });
        writer = new SpecificDatumWriter<>(schema);
        LOG.info("Records of {} are written framed with schema id {} (subject {} at {})", schema.getName(), schemaId,
                subject, settings.url);
    }
}
