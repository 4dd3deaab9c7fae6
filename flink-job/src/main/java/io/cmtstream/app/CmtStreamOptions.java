package io.cmtstream.app;

import io.cmtstream.ingest.QueryAdmission;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Every option of the job, with its default and description. The defaults run the embedded mode; the README's
 * configuration table is checked against this class by a test. An option that duplicates a Flink option applies
 * only where the Flink key is absent ({@link FlinkSettings}).
 */
public final class CmtStreamOptions {
    private CmtStreamOptions() {}

    /** Kafka client settings (security.protocol, sasl.*, ssl.*) passed through under this prefix. */
    public static final String KAFKA_PROPERTIES_PREFIX = "cmt.kafka.properties.";

    public enum StartingOffsets { EARLIEST, LATEST, COMMITTED }

    public enum Delivery { EXACTLY_ONCE, AT_LEAST_ONCE }

    /** How record values are encoded on all four topics. */
    public enum ValueFormat { AVRO, AVRO_REGISTRY }

    public static final ConfigOption<String> BOOTSTRAP_SERVERS = ConfigOptions.key("cmt.kafka.bootstrap-servers")
            .stringType().defaultValue("localhost:9092").withDescription("Kafka bootstrap servers.");
    public static final ConfigOption<String> GROUP_ID = ConfigOptions.key("cmt.kafka.group-id")
            .stringType().defaultValue("cmt-stream").withDescription("Consumer group of both sources.");
    public static final ConfigOption<String> DOCUMENTS_TOPIC = ConfigOptions.key("cmt.kafka.topic.documents")
            .stringType().defaultValue("documents").withDescription("Topic of Avro Document records.");
    public static final ConfigOption<String> QUERIES_TOPIC = ConfigOptions.key("cmt.kafka.topic.queries")
            .stringType().defaultValue("queries").withDescription("Topic of Avro Query records.");
    public static final ConfigOption<String> ANSWERS_TOPIC = ConfigOptions.key("cmt.kafka.topic.answers")
            .stringType().defaultValue("answers").withDescription("Topic the Avro Answer records are written to.");
    public static final ConfigOption<String> DEAD_LETTERS_TOPIC = ConfigOptions.key("cmt.kafka.topic.dead-letters")
            .stringType().defaultValue("dead-letters").withDescription("Topic of Avro DeadLetter records.");
    public static final ConfigOption<StartingOffsets> STARTING_OFFSETS = ConfigOptions.key("cmt.kafka.starting-offsets")
            .enumType(StartingOffsets.class).defaultValue(StartingOffsets.COMMITTED)
            .withDescription("Where a new consumer group starts: EARLIEST, LATEST, or COMMITTED (earliest when none).");
    public static final ConfigOption<ValueFormat> VALUE_FORMAT = ConfigOptions.key("cmt.kafka.value-format")
            .enumType(ValueFormat.class).defaultValue(ValueFormat.AVRO)
            .withDescription("AVRO: plain Avro binary of the job's schemas. AVRO_REGISTRY: framed for a schema "
                    + "registry (magic byte 0, 4-byte schema id, Avro binary); documents and queries are read with "
                    + "the writer's schema fetched from cmt.registry.url, answers and dead letters are written with "
                    + "the id of the job's schema under <topic>-value.");

    public static final ConfigOption<String> REGISTRY_URL = ConfigOptions.key("cmt.registry.url")
            .stringType().noDefaultValue()
            .withDescription("Base URL of a registry's Confluent-compatible REST API (as Confluent Schema Registry, "
                    + "Karapace and Apicurio's /apis/ccompat/v7 serve it); required with AVRO_REGISTRY.");
    public static final ConfigOption<Boolean> REGISTRY_AUTO_REGISTER = ConfigOptions.key("cmt.registry.auto-register")
            .booleanType().defaultValue(true)
            .withDescription("Register the job's Answer and DeadLetter schemas under <topic>-value on first use; "
                    + "when false they must be registered already (else the job fails naming the subject).");
    public static final ConfigOption<Duration> REGISTRY_UNKNOWN_ID_TTL = ConfigOptions.key("cmt.registry.unknown-id-ttl")
            .durationType().defaultValue(Duration.ofMinutes(5))
            .withDescription("How long an id the registry answered it does not have is remembered (its records are "
                    + "dead letters UNKNOWN_SCHEMA_ID without asking again), so random ids do not flood the registry.");
    public static final ConfigOption<Duration> REGISTRY_REQUEST_TIMEOUT = ConfigOptions
            .key("cmt.registry.request-timeout")
            .durationType().defaultValue(Duration.ofSeconds(10))
            .withDescription("Connect and request timeout of one registry call; a call that times out is retried.");
    public static final ConfigOption<Duration> REGISTRY_MAX_BACKOFF = ConfigOptions.key("cmt.registry.max-backoff")
            .durationType().defaultValue(Duration.ofSeconds(30))
            .withDescription("Longest wait between retries while the registry is unreachable (from 100 ms, "
                    + "doubling); the sources wait, nothing is dead-lettered for it.");
    public static final ConfigOption<String> REGISTRY_BASIC_AUTH_FILE = ConfigOptions
            .key("cmt.registry.basic-auth.user-info-file")
            .stringType().noDefaultValue()
            .withDescription("File holding user:password for HTTP basic auth to the registry (e.g. a mounted Secret; "
                    + "read at each request, so a rotated Secret is picked up).");
    public static final ConfigOption<String> REGISTRY_BEARER_TOKEN_FILE = ConfigOptions
            .key("cmt.registry.bearer-token-file")
            .stringType().noDefaultValue()
            .withDescription("File holding a bearer token for the registry (read at each request).");
    public static final ConfigOption<String> REGISTRY_KEYSTORE = ConfigOptions.key("cmt.registry.ssl.keystore.location")
            .stringType().noDefaultValue()
            .withDescription("PKCS12 (or JKS) key store with the client certificate for mTLS to the registry.");
    public static final ConfigOption<String> REGISTRY_KEYSTORE_PASSWORD_FILE = ConfigOptions
            .key("cmt.registry.ssl.keystore.password-file")
            .stringType().noDefaultValue().withDescription("File holding the key store's password.");
    public static final ConfigOption<String> REGISTRY_TRUSTSTORE = ConfigOptions
            .key("cmt.registry.ssl.truststore.location")
            .stringType().noDefaultValue()
            .withDescription("Trust store for the registry's certificate: PKCS12 or JKS, or PEM certificates (a CA "
                    + "bundle, no password); the JVM's default when unset.");
    public static final ConfigOption<String> REGISTRY_TRUSTSTORE_PASSWORD_FILE = ConfigOptions
            .key("cmt.registry.ssl.truststore.password-file")
            .stringType().noDefaultValue().withDescription("File holding the trust store's password.");

    public static final ConfigOption<String> MODEL_DIR = ConfigOptions.key("cmt.model.dir")
            .stringType().defaultValue("models/cmt-bge-small-squad")
            .withDescription("Model directory (model.json + TorchScript files), see docs/MODEL-CONTRACT.md.");
    public static final ConfigOption<String> MODEL_DEVICE = ConfigOptions.key("cmt.model.device")
            .stringType().defaultValue("auto").withDescription("auto (GPU when the task manager has one), cpu or gpu.");
    public static final ConfigOption<String> MODEL_BACKBONE_ENGINE = ConfigOptions.key("cmt.model.backbone-engine")
            .stringType().defaultValue("auto")
            .withDescription("What runs the backbone: onnx (ONNX Runtime on the ONNX file), torch (PyTorch on the model's "
                    + "backbone script, on the heads' device), or auto: torch where the heads run on a GPU and the "
                    + "model has the script (files.backbone), else onnx.");
    public static final ConfigOption<Integer> MODEL_BATCH_SIZE = ConfigOptions.key("cmt.model.batch-size")
            .intType().defaultValue(32).withDescription("Largest batch the model runtime forms across slots.");
    public static final ConfigOption<Duration> MODEL_BATCH_DELAY = ConfigOptions.key("cmt.model.batch-delay")
            .durationType().defaultValue(Duration.ofMillis(5))
            .withDescription("Longest a document waits for its batch to fill (questions and answers never wait: "
                    + "their batch is what queued during the previous call).");
    public static final ConfigOption<Duration> MODEL_TIMEOUT = ConfigOptions.key("cmt.model.timeout")
            .durationType().defaultValue(Duration.ofSeconds(120))
            .withDescription("A model call slower than this is a failed try of its record (the call is abandoned; "
                    + "see cmt.model.record-attempts).");
    public static final ConfigOption<Integer> MODEL_RECORD_ATTEMPTS = ConfigOptions.key("cmt.model.record-attempts")
            .intType().defaultValue(3)
            .withDescription("Tries of the model on one record (a failed batch is first rerun record by record); a "
                    + "record the model fails on (exception or timeout) every time becomes a dead letter "
                    + "'MODEL_ERROR: ...'.");
    public static final ConfigOption<Integer> MODEL_MAX_CONSECUTIVE_FAILURES = ConfigOptions
            .key(io.cmtstream.compress.ModelFailingException.OPTION)
            .intType().defaultValue(10)
            .withDescription("Records the model fails on in a row (each after all its tries) that fail the job "
                    + "instead of becoming dead letters: the model itself is failing. The restart strategy then "
                    + "replays them from the last checkpoint.");
    public static final ConfigOption<Integer> MODEL_IN_FLIGHT = ConfigOptions.key("cmt.model.max-in-flight")
            .intType().defaultValue(64).withDescription("Model calls in flight per operator subtask.");

    public static final ConfigOption<Integer> SHARDS = ConfigOptions.key("cmt.memory.shards")
            .intType().defaultValue(4)
            .withDescription("Shards per tenant; fixed for the life of the job's state, like max parallelism.");
    public static final ConfigOption<Integer> DEFAULT_TOP_K = ConfigOptions.key("cmt.query.default-top-k")
            .intType().defaultValue(3).withDescription("Memories aggregated when a query gives no topK; when unset, "
                    + "the model's own defaultTopK (chosen on validation, in model.json) if it has one.");
    public static final ConfigOption<Integer> MAX_TOP_K = ConfigOptions.key("cmt.query.max-top-k")
            .intType().defaultValue(64).withDescription("Largest topK a query may ask for; larger ones are dead letters.");
    public static final ConfigOption<Integer> MAX_PENDING = ConfigOptions.key("cmt.query.max-pending")
            .intType().defaultValue(QueryAdmission.DEFAULT_MAX_PENDING)
            .withDescription("Most queries of one tenant waiting for the document watermark (so also in each of its "
                    + "shards); more are dead letters (OVERLOADED), decided before fan-out.");
    public static final ConfigOption<Duration> ID_RETENTION = ConfigOptions.key("cmt.query.id-retention")
            .durationType().defaultValue(Duration.ofMillis(QueryAdmission.DEFAULT_ID_RETENTION_MILLIS))
            .withDescription("A query id is remembered while its query is pending and this long after (in document "
                    + "watermark time); a query reusing it meanwhile is a dead letter (DUPLICATE_QUERY_ID). Also how "
                    + "long an incomplete query's merge state is kept.");
    public static final ConfigOption<Boolean> AS_OF_ASKED_AT = ConfigOptions.key("cmt.query.as-of-asked-at")
            .booleanType().defaultValue(true)
            .withDescription("Match a query only among memories published at or before its askedAt, so a replayed "
                    + "or late-processed query gets the same answer (a document upserted or deleted after askedAt "
                    + "is not seen: the bank keeps only its latest version).");
    public static final ConfigOption<Integer> MAX_DOCUMENT_CHARS = ConfigOptions.key("cmt.ingest.max-document-chars")
            .intType().defaultValue(100_000).withDescription("Longer documents are dead letters.");
    public static final ConfigOption<Integer> MAX_QUESTION_CHARS = ConfigOptions.key("cmt.ingest.max-question-chars")
            .intType().defaultValue(2_000).withDescription("Longer questions are dead letters.");
    public static final ConfigOption<Duration> MAX_FUTURE_SKEW = ConfigOptions.key("cmt.ingest.max-future-skew")
            .durationType().defaultValue(Duration.ofMinutes(5))
            .withDescription("Documents published or queries asked further than this ahead of the job's clock are "
                    + "dead letters (EVENT_TIME_IN_FUTURE): one would lift the watermark for every tenant, the other "
                    + "wait in the bank until its time.");

    public static final ConfigOption<Duration> OUT_OF_ORDERNESS = ConfigOptions.key("cmt.watermark.out-of-orderness")
            .durationType().defaultValue(Duration.ofMillis(200))
            .withDescription("How late a document may arrive after one published later and still be seen by queries.");
    public static final ConfigOption<Duration> IDLE_TIMEOUT = ConfigOptions.key("cmt.watermark.idle-timeout")
            .durationType().defaultValue(Duration.ofSeconds(1))
            .withDescription("A quiet documents partition holds queries back at most this long.");
    public static final ConfigOption<Duration> WATERMARK_INTERVAL = ConfigOptions.key("cmt.watermark.interval")
            .durationType().defaultValue(Duration.ofMillis(5))
            .withDescription("How often sources emit watermarks; a query waits up to this long for the next one. "
                    + "Flink's pipeline.auto-watermark-interval governs where set.");
    public static final ConfigOption<Duration> BUFFER_TIMEOUT = ConfigOptions.key("cmt.network.buffer-timeout")
            .durationType().defaultValue(Duration.ZERO)
            .withDescription("Longest a record waits in a network buffer between operators. 0 sends every record "
                    + "at once: records here are few and each costs a model call, and a positive timeout runs a "
                    + "flusher thread per task whose wake-ups slow the model on a small machine (Flink's default, "
                    + "100 ms, would also be paid at every hop of a query). Flink's execution.buffer-timeout.interval "
                    + "(or its old name execution.buffer-timeout) and execution.buffer-timeout.enabled govern where "
                    + "set.");

    public static final ConfigOption<Delivery> DELIVERY = ConfigOptions.key("cmt.delivery.guarantee")
            .enumType(Delivery.class).defaultValue(Delivery.EXACTLY_ONCE)
            .withDescription("EXACTLY_ONCE (transactional; answers visible at checkpoints) or AT_LEAST_ONCE "
                    + "(lower latency; deduplicate on queryId).");
    public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX = ConfigOptions.key("cmt.delivery.transactional-id-prefix")
            .stringType().defaultValue("cmt-stream").withDescription("Prefix of the sinks' Kafka transactional ids.");
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = ConfigOptions.key("cmt.checkpoint.interval")
            .durationType().defaultValue(Duration.ofSeconds(10))
            .withDescription("Checkpoint interval; with EXACTLY_ONCE also the answer latency floor. Flink's "
                    + "execution.checkpointing.interval governs where set.");
    public static final ConfigOption<String> JOB_NAME = ConfigOptions.key("cmt.job.name")
            .stringType().defaultValue("cmt-stream").withDescription("Name of the Flink job.");

    /** All options above, for validation and documentation. */
    public static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> options = new ArrayList<>();
        for (Field f : CmtStreamOptions.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == ConfigOption.class) {
                try {
                    options.add((ConfigOption<?>) f.get(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return options;
    }
}
