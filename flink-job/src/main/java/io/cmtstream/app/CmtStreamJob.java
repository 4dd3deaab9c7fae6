package io.cmtstream.app;

import io.cmtstream.answer.MergeShardHits;
import io.cmtstream.answer.ReadAnswers;
import io.cmtstream.answer.RetrievedContext;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.compress.CompressDocuments;
import io.cmtstream.compress.EncodeQueries;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.compress.ModelCallGuard;
import io.cmtstream.compress.QueryFanOut;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.DocumentValidator;
import io.cmtstream.ingest.DocumentWatermarks;
import io.cmtstream.ingest.IngestDeserializer;
import io.cmtstream.ingest.IngestLimits;
import io.cmtstream.ingest.Ingested;
import io.cmtstream.ingest.QueriesHoldNoTime;
import io.cmtstream.ingest.QueryAdmission;
import io.cmtstream.ingest.QueryIdGuard;
import io.cmtstream.ingest.QueryValidator;
import io.cmtstream.ingest.RecordDecoder;
import io.cmtstream.ingest.RegistryDecoder;
import io.cmtstream.ingest.Rejection;
import io.cmtstream.ingest.SplitDeadLetters;
import io.cmtstream.ingest.TenantBacklog;
import io.cmtstream.memory.BankLayout;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.memory.MemoryShardFunction;
import io.cmtstream.memory.ShardAssigner;
import io.cmtstream.memory.ShardHits;
import io.cmtstream.memory.ShardQuery;
import io.cmtstream.model.MemorySpace;
import io.cmtstream.model.ModelConfig;
import io.cmtstream.model.ModelLoadException;
import io.cmtstream.model.ModelSpec;
import io.cmtstream.registry.RegistrySerializationSchema;
import io.cmtstream.registry.RegistrySettings;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.HeaderProvider;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchemaBuilder;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.formats.avro.AvroSerializationSchema;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.app.CmtStreamOptions.*;

/**
 * Wires the CMT data flow of DESIGN.md section 2 onto a Flink environment:
 * <pre>
 * documents -> validate (-> dead letters) -> compress -> keyBy(tenant, shard) --\
 *                                                                               MemoryShardFunction (RocksDB)
 * queries -> validate, admit (-> dead letters) -> encode -> fan out to shards --/        |
 *                  \-> keyBy(query) ------------------------------------- merge top-k <--/
 *                                                                            -> aggregate + read -> answers
 * </pre>
 * Every stateful operator has a stable uid so savepoints survive changes to the job.
 */
public final class CmtStreamJob {
    /** Pause before a record's second try of the model, doubled before each later one. */
    static final long MODEL_RETRY_BACKOFF_MILLIS = 100;
    /** The sinks' transaction timeout unless {@code cmt.kafka.properties.transaction.timeout.ms} sets one. */
    static final long DEFAULT_TRANSACTION_TIMEOUT_MILLIS = 900_000;
    /** Kafka header of every dead letter: its stable reason code in UTF-8 ({@link #deadLetterHeaders}). */
    public static final String REASON_HEADER = "cmt.reason";

    private CmtStreamJob() {}

    /** The shard count and the model's memory space, which the bank records and checks on restore. */
    static BankLayout bankLayout(Configuration conf) {
        String space;
        try {
            space = MemorySpace.of(ModelConfig.read(Path.of(conf.get(MODEL_DIR))));
        } catch (ModelLoadException e) {
            // The task managers will fail with the full diagnosis; a bank cannot be written without the model.
            space = null;
        }
        return new BankLayout(conf.get(SHARDS), 0, space);
    }

    /** The configured default k, else the one the model was tuned with, else the option's default. */
    static int defaultTopK(Configuration conf) {
        if (conf.contains(DEFAULT_TOP_K)) {
            return conf.get(DEFAULT_TOP_K);
        }
        try {
            int k = ModelConfig.read(Path.of(conf.get(MODEL_DIR))).defaultTopK();
            return k > 0 ? k : DEFAULT_TOP_K.defaultValue();
        } catch (ModelLoadException e) {
            // The task managers will fail with the full diagnosis; here only the default is at stake.
            return DEFAULT_TOP_K.defaultValue();
        }
    }

    /** Adds the whole job to {@code env}. */
    public static void build(StreamExecutionEnvironment env, Configuration conf) {
        build(env, conf, null);
    }

    /**
     * Adds the whole job to {@code env}, with {@code preloaded} memories (already compressed, e.g. restored from
     * another bank or replicated for a benchmark) entering the memory bank beside the compressed documents.
     */
    public static void build(StreamExecutionEnvironment env, Configuration conf,
                             DataStream<CompressedDocument> preloaded) {
        ModelSpec model = new ModelSpec(conf.get(MODEL_DIR), conf.get(MODEL_BATCH_SIZE),
                conf.get(MODEL_BATCH_DELAY).toMillis(), conf.get(MODEL_DEVICE), conf.get(MODEL_BACKBONE_ENGINE));
        IngestLimits limits = new IngestLimits(conf.get(MAX_DOCUMENT_CHARS), conf.get(MAX_QUESTION_CHARS),
                conf.get(MAX_TOP_K), conf.get(MAX_FUTURE_SKEW).toMillis());
        int shards = conf.get(SHARDS);
        ShardAssigner shardAssigner = new ShardAssigner(shards);
        ModelCallGuard.Settings faults = modelFaults(conf);
        // Flink's own async timeout only backs up the guard's per-try timeouts (see ModelAsyncFunction.timeout).
        long modelTimeout = faults.worstCaseMillis(10_000);
        int inFlight = conf.get(MODEL_IN_FLIGHT);
        RegistrySettings registry = JobConfig.registrySettings(conf);
        String documentsTopic = conf.get(DOCUMENTS_TOPIC);
        String queriesTopic = conf.get(QUERIES_TOPIC);

        // Checkpoints, watermark interval, buffer timeout and state backend: Flink's own keys where set, else the
        // job's options. Records here are few and expensive (a model call each), so the job's latency-minded
        // defaults cost no throughput.
        env.configure(FlinkSettings.resolve(env.getConfiguration(), conf));

        long outOfOrderness = conf.get(OUT_OF_ORDERNESS).toMillis();
        long idleTimeout = conf.get(IDLE_TIMEOUT).toMillis();
        WatermarkStrategy<Ingested<Document>> documentTime = WatermarkStrategy
                .<Ingested<Document>>forGenerator(DocumentWatermarks.supplier(outOfOrderness, idleTimeout))
                .withTimestampAssigner((in, kafkaTime) -> in.eventTime);
        WatermarkStrategy<Ingested<Query>> queryTime = WatermarkStrategy
                .<Ingested<Query>>forGenerator(ctx -> new QueriesHoldNoTime<>())
                .withTimestampAssigner((in, kafkaTime) -> in.eventTime);

        SingleOutputStreamOperator<Document> documents = env
                .fromSource(source(conf, conf.get(DOCUMENTS_TOPIC), new IngestDeserializer<>(
                        decoders(Document.class, registry), new DocumentValidator(limits),
                        d -> d.getPublishedAt().toEpochMilli(),
                        TypeInformation.of(new TypeHint<Ingested<Document>>() {}))), documentTime, "documents")
                .uid("documents-source")
                .process(new SplitDeadLetters<Document>()).returns(Document.class)
                .uid("documents-validate").name("validate documents");

        TypeInformation<Ingested<Query>> ingestedQuery = TypeInformation.of(new TypeHint<Ingested<Query>>() {});
        DataStream<Ingested<Query>> queriesIn = env
                .fromSource(source(conf, conf.get(QUERIES_TOPIC), new IngestDeserializer<>(
                        decoders(Query.class, registry), new QueryValidator(limits),
                        q -> q.getAskedAt().toEpochMilli(), ingestedQuery)),
                        queryTime, "queries")
                .uid("queries-source");

        // Not chained to the source: a chained async operator whose queue is full blocks the source in the middle
        // of emitting a document while the source's periodic watermark still runs, and that watermark (which may
        // have advanced with the wall clock, see DocumentWatermarks) would overtake the document. Across a network
        // edge the source sees plain backpressure instead, which also pauses its idle clock.
        SingleOutputStreamOperator<CompressedDocument> compressed = AsyncDataStream
                .orderedWait(documents, new CompressDocuments(model, faults, documentsTopic), modelTimeout,
                        TimeUnit.MILLISECONDS, inFlight)
                .returns(new TypeHint<Ingested<CompressedDocument>>() {})
                .uid("compress").name("compress documents").startNewChain()
                .process(new SplitDeadLetters<CompressedDocument>()).returns(CompressedDocument.class)
                .uid("compress-model-errors").name("model errors of documents");
        DataStream<CompressedDocument> memories = preloaded == null ? compressed : compressed.union(preloaded);

        // Admission, once per query and before it is encoded and fanned out (so no query is half-answered and two
        // queries with one id never meet): a tenant's queries waiting for the document watermark are capped, then
        // duplicate ids are refused. Both need the document watermark: the validated documents, filtered to
        // nothing, carry it. Taken before the compressor, not after: connected after it, every checkpoint barrier
        // of the query path waited for the compressor's backlog, so the memory bank blocked its documents input
        // for the whole query path at each checkpoint (the burst of ConsistencyITCase compressed 187 documents in
        // the 90 s where the parent commit compressed 241 in 51 s). Past the admission steps the queries hold no
        // time again, as from their source, so a shard's watermark stays the memories' alone.
        DataStream<Document> documentClock = documents.filter(d -> false)
                .uid("document-time").name("document watermark");
        SingleOutputStreamOperator<Query> queries = queriesIn
                .keyBy(QueryAdmission::tenantKey, Types.STRING)
                .connect(documentClock.keyBy(Document::getTenant, Types.STRING))
                .process(new TenantBacklog<Document>(conf.get(MAX_PENDING))).returns(ingestedQuery)
                .uid("queries-backlog").name("cap pending queries per tenant")
                .keyBy(QueryAdmission::queryKey, Types.STRING)
                .process(new QueryIdGuard(conf.get(ID_RETENTION).toMillis())).returns(ingestedQuery)
                .uid("query-ids").name("refuse duplicate query ids")
                .assignTimestampsAndWatermarks(queryTime)
                .uid("queries-time").name("queries hold no time")
                .process(new SplitDeadLetters<Query>()).returns(Query.class)
                .uid("queries-validate").name("admit queries");

        SingleOutputStreamOperator<EncodedQuery> encoded = AsyncDataStream
                .orderedWait(queries, new EncodeQueries(model, faults, queriesTopic, defaultTopK(conf)), modelTimeout,
                        TimeUnit.MILLISECONDS, inFlight)
                .returns(new TypeHint<Ingested<EncodedQuery>>() {})
                .uid("encode-queries").name("encode queries")
                .process(new SplitDeadLetters<EncodedQuery>()).returns(EncodedQuery.class)
                .uid("encode-model-errors").name("model errors of queries");

        DataStream<ShardQuery> shardQueries = encoded.flatMap(new QueryFanOut(shards))
                .uid("fan-out").name("fan out to shards");

        DataStream<ShardHits> shardHits = memories
                .keyBy(d -> shardAssigner.keyOfDocument(d.tenant, d.docId), Types.STRING)
                .connect(shardQueries.keyBy(q -> shardAssigner.key(q.tenant, q.shard), Types.STRING))
                .process(new MemoryShardFunction(conf.get(AS_OF_ASKED_AT), bankLayout(conf),
                        conf.get(ID_RETENTION).toMillis()))
                .uid("memory-bank").name("memory bank (local top-k)");

        DataStream<RetrievedContext> contexts = encoded
                .keyBy(q -> MergeShardHits.key(q.tenant, q.queryId), Types.STRING)
                .connect(shardHits.keyBy(h -> MergeShardHits.key(h.tenant, h.queryId), Types.STRING))
                .process(new MergeShardHits(shards, conf.get(ID_RETENTION).toMillis()))
                .uid("merge-top-k").name("merge top-k");

        SingleOutputStreamOperator<Answer> answers = AsyncDataStream
                .orderedWait(contexts, new ReadAnswers(model, faults, queriesTopic), modelTimeout,
                        TimeUnit.MILLISECONDS, inFlight)
                .returns(new TypeHint<Ingested<Answer>>() {})
                .uid("read").name("aggregate and read")
                .process(new SplitDeadLetters<Answer>()).returns(Answer.class)
                .uid("read-model-errors").name("model errors of answers");
        // The sinks give a Kafka record the Flink record's timestamp, here the question's askedAt (a dead letter's:
        // its record's event time). Kafka's time-based retention counts from it, so an answer to a question asked
        // longer than retention.ms ago would be deleted at the broker's next retention check, before a consumer
        // that lags by minutes reads it. Answers and dead letters carry the time they were written instead.
        answers.assignTimestampsAndWatermarks(WatermarkStrategy.<Answer>noWatermarks()
                        .withTimestampAssigner((a, time) -> a.getAnsweredAt().toEpochMilli()))
                .uid("answered-at").name("answered at")
                .sinkTo(sink(conf, registry, conf.get(ANSWERS_TOPIC), Answer.class,
                        a -> (a.getTenant() + "/" + a.getQueryId()).getBytes(StandardCharsets.UTF_8), null,
                        "answers"))
                .uid("answers-sink").name("answers");

        documents.getSideOutput(SplitDeadLetters.DEAD_LETTERS)
                .union(queries.getSideOutput(SplitDeadLetters.DEAD_LETTERS),
                        compressed.getSideOutput(SplitDeadLetters.DEAD_LETTERS),
                        encoded.getSideOutput(SplitDeadLetters.DEAD_LETTERS),
                        answers.getSideOutput(SplitDeadLetters.DEAD_LETTERS))
                .assignTimestampsAndWatermarks(WatermarkStrategy.<DeadLetter>noWatermarks()
                        .withTimestampAssigner((d, time) -> d.getFailedAt().toEpochMilli()))
                .uid("failed-at").name("failed at")
                .sinkTo(sink(conf, registry, conf.get(DEAD_LETTERS_TOPIC), DeadLetter.class,
                        CmtStreamJob::deadLetterKey, CmtStreamJob::deadLetterHeaders, "dead-letters"))
                .uid("dead-letters-sink").name("dead letters");
    }

    /**
     * A dead letter's Kafka key: where its record was ({@code topic/partition/offset}), or, for a record refused past
     * validation (a model error: no offset any more), {@code topic/tenant/id}.
     */
    static byte[] deadLetterKey(DeadLetter d) {
        if (d.getOffset() >= 0 || d.getKey() == null) {
            return (d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset()).getBytes(StandardCharsets.UTF_8);
        }
        ByteBuffer key = d.getKey().duplicate();
        byte[] id = new byte[key.remaining()];
        key.get(id);
        return (d.getTopic() + "/" + new String(id, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A dead letter's Kafka headers: {@value #REASON_HEADER}, the reason's stable code (e.g. {@code EMPTY_TEXT}), so
     * a consumer or an operator's {@code kcat} can filter or route dead letters without decoding Avro.
     */
    static Headers deadLetterHeaders(DeadLetter d) {
        return new RecordHeaders().add(REASON_HEADER,
                Rejection.of(d.getReason()).name().getBytes(StandardCharsets.UTF_8));
    }

    /** How the model functions treat a record the model fails on ({@link ModelCallGuard}). */
    static ModelCallGuard.Settings modelFaults(Configuration conf) {
        return new ModelCallGuard.Settings(conf.get(MODEL_RECORD_ATTEMPTS), conf.get(MODEL_TIMEOUT).toMillis(),
                MODEL_RETRY_BACKOFF_MILLIS, conf.get(MODEL_MAX_CONSECUTIVE_FAILURES));
    }

    /**
     * The memory bank's state backend, as job configuration (Flink 2 has no {@code setStateBackend}): RocksDB
     * (EmbeddedRocksDBStateBackend) with incremental checkpoints unless {@code state.backend.type} says
     * {@code forst} (the disaggregated ForSt backend, see docs/UPGRADING.md), from the job's configuration or the
     * cluster's ({@link FlinkSettings}). Any other backend is refused: the bank must spill to disk.
     */
    static Configuration stateBackend(Configuration conf) {
        Configuration all = FlinkSettings.resolve(new Configuration(), conf);
        Configuration backend = new Configuration();
        backend.set(StateBackendOptions.STATE_BACKEND, all.get(StateBackendOptions.STATE_BACKEND));
        backend.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, all.get(CheckpointingOptions.INCREMENTAL_CHECKPOINTS));
        return backend;
    }

    private static <T> KafkaSource<Ingested<T>> source(Configuration conf, String topic,
                                                        IngestDeserializer<?> deserializer) {
        @SuppressWarnings("unchecked")
        IngestDeserializer<org.apache.avro.specific.SpecificRecord> typed =
                (IngestDeserializer<org.apache.avro.specific.SpecificRecord>) deserializer;
        OffsetsInitializer offsets = switch (conf.get(STARTING_OFFSETS)) {
            case EARLIEST -> OffsetsInitializer.earliest();
            case LATEST -> OffsetsInitializer.latest();
            case COMMITTED -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
        };
        @SuppressWarnings({"unchecked", "rawtypes"})
        KafkaSource<Ingested<T>> source = (KafkaSource) KafkaSource.<Ingested<org.apache.avro.specific.SpecificRecord>>builder()
                .setBootstrapServers(conf.get(BOOTSTRAP_SERVERS))
                .setTopics(topic)
                .setGroupId(conf.get(GROUP_ID))
                .setStartingOffsets(offsets)
                .setDeserializer(typed)
                .setProperties(sourceProperties(conf))
                .setProperty("partition.discovery.interval.ms", "60000")
                .build();
        return source;
    }

    /**
     * The sources' Kafka client properties: the pass-through ones, reading only committed records unless they say
     * otherwise. Kafka's default, read_uncommitted, would let a document of an upstream transaction that is later
     * aborted become a memory (and a query of one be answered).
     */
    static Properties sourceProperties(Configuration conf) {
        Properties props = JobConfig.kafkaProperties(conf);
        props.putIfAbsent(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return props;
    }

    /**
     * The sinks' Kafka producer properties: the pass-through ones, with a transaction timeout of 15 min unless they
     * set one. Flink's default (1 h) is above the broker's default maximum ({@code transaction.max.timeout.ms},
     * 15 min), and the producer would fail at its first transaction; {@link StartupChecks#kafkaTransactionsFit}
     * checks the value against the broker's.
     */
    static Properties sinkProperties(Configuration conf) {
        Properties props = JobConfig.kafkaProperties(conf);
        props.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, String.valueOf(DEFAULT_TRANSACTION_TIMEOUT_MILLIS));
        return props;
    }

    /** The sources' decoders of {@code type}: plain Avro, or registry-framed when {@code registry} is set. */
    private static <T extends org.apache.avro.specific.SpecificRecord> RecordDecoder.Factory<T> decoders(
            Class<T> type, RegistrySettings registry) {
        return registry == null ? () -> new AvroDecoder<>(type) : RegistryDecoder.factory(type, registry);
    }

    /**
     * A sink of Avro records of {@code type}, keyed by {@code key}, with {@code headers} unless null; values framed
     * for {@code registry} unless it is null.
     */
    private static <T extends org.apache.avro.specific.SpecificRecord> KafkaSink<T> sink(
            Configuration conf, RegistrySettings registry, String topic, Class<T> type, SerializationSchema<T> key,
            HeaderProvider<T> headers, String name) {
        Properties props = sinkProperties(conf);
        DeliveryGuarantee guarantee = conf.get(DELIVERY) == Delivery.EXACTLY_ONCE
                ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE;
        KafkaRecordSerializationSchemaBuilder<T> records = KafkaRecordSerializationSchema.<T>builder()
                .setTopic(topic)
                .setKeySerializationSchema(key)
                .setValueSerializationSchema(registry == null ? AvroSerializationSchema.forSpecific(type)
                        : new RegistrySerializationSchema<>(type, topic, registry));
        if (headers != null) {
            records = records.setHeaderProvider(headers);
        }
        return KafkaSink.<T>builder()
                .setBootstrapServers(conf.get(BOOTSTRAP_SERVERS))
                .setKafkaProducerConfig(props)
                .setRecordSerializer(records.build())
                .setDeliveryGuarantee(guarantee)
                .setTransactionalIdPrefix(conf.get(TRANSACTIONAL_ID_PREFIX) + "-" + name)
                .build();
    }
}
