package io.cmtstream.bench;

import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.client.CmtClient;
import io.cmtstream.eval.Percentiles;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.memory.Memory;
import io.cmtstream.model.DjlCmtModel;
import io.cmtstream.model.Encoding;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import static io.cmtstream.bench.BenchSupport.awaitCheckpoint;
import static io.cmtstream.bench.BenchSupport.awaitQuiet;
import static io.cmtstream.bench.BenchSupport.deleteRecursively;
import static io.cmtstream.bench.BenchSupport.directorySize;
import static io.cmtstream.bench.BenchSupport.heapBytesPerMemory;

/** The benchmarks that run the job: ingest rate, passthrough floor, latency against bank size. */
final class JobBench {
    /** Documents compressed before the ingest is timed. */
    static final int WARM_UP_DOCUMENTS = 64;

    private final Path modelDir;
    private final Map<String, String> jobOptions;
    private final PrintStream out;
    private List<Memory> realMemories;

    JobBench(Path modelDir, PrintStream out) {
        this(modelDir, Map.of(), out);
    }

    /** @param jobOptions job settings that override the bench's own (as {@code key=value} in {@code --job}) */
    JobBench(Path modelDir, Map<String, String> jobOptions, PrintStream out) {
        this.modelDir = modelDir;
        this.jobOptions = Map.copyOf(jobOptions);
        this.out = out;
    }

    record IngestResult(int documents, double documentsPerSecond) {}

    record PassthroughResult(int records, double recordsPerSecond) {}

    /** Latency figures in ms: end to end (askedAt to answeredAt) and the stages the answer's timings name. */
    record LatencyResult(int memories, int queries, double p50, double p99, double max, double matchP50,
                         double matchP99,
                         double encodeP50, double readP50, double readP99,
                         double rocksDbBytesPerMemory, double heapBytesPerMemory) {}

    private Map<String, String> options() {
        Map<String, String> o = new HashMap<>();
        o.put("cmt.model.dir", modelDir.toString());
        o.put("cmt.delivery.guarantee", "AT_LEAST_ONCE");
        o.put("cmt.checkpoint.interval", "30 s");
        o.putAll(jobOptions);
        return o;
    }

    IngestResult ingest(List<String> paragraphs, int documents) throws Exception {
        try (EmbeddedCluster cluster = EmbeddedCluster.start(options(), false); CmtClient client = cluster.client()) {
            // As for the model alone: model load, two full batches of documents (JIT of the job's own path:
            // deserialisation, state, the key matrix), and a query after them.
            warmUp(client, paragraphs, WARM_UP_DOCUMENTS, "ingest");

            // The job's model runtime (one per JVM, and the MiniCluster runs in this one): its counters show
            // whether the model or the job around it sets the pace.
            try (ModelTimeline timeline = ModelTimeline.start(modelDir, out)) {
                long started = System.nanoTime();
                for (int i = 0; i < documents; i++) {
                    client.publish(document("ingest-" + i, paragraphs.get(i % paragraphs.size())));
                }
                client.flush();
                // Scoped to the last document: the consistency guarantee promises it is in the bank when this query
                // is matched, and an answer without it as evidence would mean the rate below counts unfinished work.
                String last = "ingest-" + (documents - 1);
                client.publish(Query.newBuilder(query("after-ingest", "What is the last document about?"))
                        .setRestrictTo(List.of(last)).setTopK(1).build());
                client.flush();
                Answer answer = await(client, Set.of("after-ingest"), Duration.ofMinutes(30)).get("after-ingest");
                double seconds = (System.nanoTime() - started) / 1e9;
                timeline.stop();
                if (answer == null || answer.getEvidence().stream().noneMatch(e -> e.getDocId().equals(last))) {
                    throw new IllegalStateException("the query published after " + last + " was answered without it: "
                            + answer);
                }
                out.printf("ingest: %d documents in %.1f s%n", documents, seconds);
                return new IngestResult(documents, documents / seconds);
            }
        }
    }

    /** The model alone while the job runs beside it with nothing to do: the framework's idle cost. */
    ModelThroughput.Result modelBesideIdleJob(List<String> paragraphs, int texts, int[] batches) throws Exception {
        try (EmbeddedCluster cluster = EmbeddedCluster.start(options(), false); CmtClient client = cluster.client()) {
            warmUp(client, paragraphs, 1, "model beside an idle job");
            return ModelThroughput.measure(modelDir, paragraphs, texts, batches, out);
        }
    }

    /**
     * Sends {@code documents} documents (the split's last paragraphs, so not the measured ones first) and a query
     * through the job, waits for the answer, then for a quiet process (CPU and JIT compiler).
     */
    private void warmUp(CmtClient client, List<String> paragraphs, int documents, String what) throws Exception {
        for (int i = 0; i < documents; i++) {
            client.publish(document("warm-" + i, paragraphs.get(paragraphs.size() - 1 - i % paragraphs.size())));
        }
        client.flush();
        client.publish(query("warm-q", "warm up"));
        client.flush();
        await(client, Set.of("warm-q"), Duration.ofMinutes(5));
        out.printf("%s: quiet (CPU and JIT) %.1f s after the warm-up%n", what, awaitQuiet(Duration.ofMinutes(3)) / 1e3);
    }

    PassthroughResult passthrough(int records) throws Exception {
        // The same embedded broker and MiniCluster as the job's runs, with no cmt job on it: Kafka and Flink alone.
        try (EmbeddedCluster cluster = EmbeddedCluster.start(EmbeddedCluster.Setup.defaults())) {
            String bootstrap = cluster.bootstrapServers();
            try (AdminClient admin = AdminClient.create(Map.of("bootstrap.servers", bootstrap))) {
                admin.createTopics(List.of(new NewTopic("bench-in", 2, (short) 1), new NewTopic("bench-out", 2, (short) 1)))
                        .all().get();
            }
            StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
            env.setParallelism(2);
            env.fromSource(KafkaSource.<byte[]>builder().setBootstrapServers(bootstrap).setTopics("bench-in")
                            .setGroupId("passthrough").setStartingOffsets(OffsetsInitializer.earliest())
                            .setValueOnlyDeserializer(new BytesSchema()).build(),
                    WatermarkStrategy.noWatermarks(), "bench-in")
                    .sinkTo(KafkaSink.<byte[]>builder().setBootstrapServers(bootstrap)
                            .setRecordSerializer(KafkaRecordSerializationSchema.<byte[]>builder().setTopic("bench-out")
                                    .setValueSerializationSchema(new BytesSchema()).build())
                            .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE).build());
            StreamGraph graph = env.getStreamGraph();
            graph.setJobName("passthrough");
            cluster.flink().submitJob(graph.getJobGraph()).get();
            byte[] value = new byte[800];
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            long started = System.nanoTime();
            try (KafkaProducer<byte[], byte[]> producer =
                         new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < records; i++) {
                    producer.send(new ProducerRecord<>("bench-in", value));
                }
            }
            Properties c = new Properties();
            c.put("bootstrap.servers", bootstrap);
            c.put(ConsumerConfig.GROUP_ID_CONFIG, "bench-" + UUID.randomUUID());
            c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            int received = 0;
            try (KafkaConsumer<byte[], byte[]> consumer =
                         new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                consumer.subscribe(List.of("bench-out"));
                long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                while (received < records && System.nanoTime() < deadline) {
                    received += consumer.poll(Duration.ofMillis(200)).count();
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            out.printf("passthrough: %d records in %.1f s%n", received, seconds);
            return new PassthroughResult(received, received / seconds);
        }
    }

    /**
     * @param idleTimeout the consistency window on a quiet documents stream ({@code cmt.watermark.idle-timeout}):
     *                    a query waits at least this long for documents published before it
     */
    LatencyResult latencyAt(int size, List<String> paragraphs, List<String> questions, int queries,
                            Duration idleTimeout) throws Exception {
        List<Memory> base = realMemories(paragraphs);
        Path rocksDir = Files.createTempDirectory("cmt-bench-rocksdb");
        Map<String, String> o = options();
        o.put("state.backend.rocksdb.localdir", rocksDir.toString());
        o.put("cmt.watermark.idle-timeout", idleTimeout.toMillis() + " ms");
        o.put("cmt.watermark.out-of-orderness", "0 ms");
        Replicate replicate = new Replicate(base);
        try (EmbeddedCluster cluster = EmbeddedCluster.start(o, false,
                env -> env.fromSequence(0, size - 1).map(replicate).returns(CompressedDocument.class)
                        .name("replicated memories"));
             CmtClient client = cluster.client()) {
            long started = System.nanoTime();
            client.publish(query("loaded", questions.get(0)));
            client.flush();
            await(client, Set.of("loaded"), Duration.ofMinutes(60));
            out.printf("bank of %d memories loaded in %.1f s%n", size, (System.nanoTime() - started) / 1e9);
            double rocksBytes = directorySize(rocksDir) / (double) size;
            // Steady state, not the load's aftermath: warm the query path up (JIT, first shapes through libtorch)
            // and let RocksDB finish compacting what the load wrote before anything is measured.
            Set<String> warmUp = new java.util.HashSet<>();
            for (int i = 0; i < WARM_UP_QUERIES; i++) {
                warmUp.add("warm-" + i);
                client.publish(query("warm-" + i, questions.get((i * 7) % questions.size())));
                client.flush();
                Thread.sleep(100);
            }
            await(client, warmUp, Duration.ofMinutes(10));
            // The first checkpoint after the load copies the whole bank (later ones, incremental, only what
            // changed): a one-off of the load, like its compaction, so it is waited out rather than measured.
            out.printf("first checkpoint after the load complete after %.1f s%n",
                    awaitCheckpoint(cluster, System.currentTimeMillis(), Duration.ofMinutes(15)) / 1e3);
            out.printf("quiet after %.1f s%n", awaitQuiet(Duration.ofMinutes(3)) / 1e3);

            Map<String, Answer> answers = new HashMap<>();
            Set<String> ids = new java.util.HashSet<>();
            for (int i = 0; i < queries; i++) {
                String id = "lat-" + i;
                ids.add(id);
                client.publish(query(id, questions.get(i % questions.size())));
                client.flush();
                Thread.sleep(100);
                client.pollAnswers(Duration.ZERO).forEach(a -> answers.put(a.getQueryId(), a));
            }
            Set<String> missing = new java.util.HashSet<>(ids);
            missing.removeAll(answers.keySet());
            answers.putAll(await(client, missing, Duration.ofMinutes(10)));
            List<Double> latency = new ArrayList<>();
            List<Double> match = new ArrayList<>();
            List<Double> encode = new ArrayList<>();
            List<Double> read = new ArrayList<>();
            for (String id : ids) {
                Answer a = answers.get(id);
                latency.add((double) (a.getAnsweredAt().toEpochMilli() - a.getAskedAt().toEpochMilli()));
                match.add((double) a.getTimings().get("match"));
                encode.add((double) a.getTimings().get("encode"));
                read.add((double) a.getTimings().get("read"));
                out.printf("query %s: %d ms (encode %d, match %d, read %d)%n", id,
                        a.getAnsweredAt().toEpochMilli() - a.getAskedAt().toEpochMilli(), a.getTimings().get("encode"),
                        a.getTimings().get("match"), a.getTimings().get("read"));
            }
            LatencyResult r = new LatencyResult(size, queries, Percentiles.of(latency, 50), Percentiles.of(latency, 99),
                    latency.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN),
                    Percentiles.of(match, 50), Percentiles.of(match, 99), Percentiles.of(encode, 50),
                    Percentiles.of(read, 50), Percentiles.of(read, 99), rocksBytes, heapBytesPerMemory(base, size));
            out.println("latency: " + r);
            return r;
        } finally {
            deleteRecursively(rocksDir);
        }
    }

    private static final int WARM_UP_QUERIES = 10;

    List<Memory> realMemories(List<String> paragraphs) {
        if (realMemories == null) {
            realMemories = new ArrayList<>();
            try (DjlCmtModel model = DjlCmtModel.load(modelDir, "cpu")) {
                List<Encoding> encodings = new ArrayList<>();
                for (int i = 0; i < paragraphs.size(); i += 32) {
                    encodings.addAll(model.encodeDocuments(paragraphs.subList(i, Math.min(paragraphs.size(), i + 32))));
                }
                for (int i = 0; i < encodings.size(); i++) {
                    Encoding e = encodings.get(i);
                    realMemories.add(new Memory("p" + i, 0, e.key(), e.memory().states(), e.memory().scales(),
                            e.memory().pieces(), paragraphs.get(i).length(), null, null)
                            .withTerms(e.terms().terms(), e.terms().weights()));
                }
            }
        }
        return realMemories;
    }

    /** The keys of real questions, with their lexical halves, as the job's query encoder makes them. */
    List<MatchKey> queryKeys(List<String> questions) {
        try (DjlCmtModel model = DjlCmtModel.load(modelDir, "cpu")) {
            return model.encodeQueries(questions).stream()
                    .map(e -> new MatchKey(e.key(), e.terms().terms(), e.terms().weights())).toList();
        }
    }

    /** Memory i of the bank is a copy of real memory i mod n. */
    static final class Replicate implements MapFunction<Long, CompressedDocument> {
        private final float[][] keys;
        private final byte[][] states;
        private final float[][] scales;
        private final short[][] pieces;
        private final int[][] terms;
        private final float[][] termWeights;

        Replicate(List<Memory> base) {
            keys = base.stream().map(m -> m.key).toArray(float[][]::new);
            states = base.stream().map(m -> m.states).toArray(byte[][]::new);
            scales = base.stream().map(m -> m.stateScales).toArray(float[][]::new);
            pieces = base.stream().map(m -> m.pieces).toArray(short[][]::new);
            terms = base.stream().map(m -> m.terms).toArray(int[][]::new);
            termWeights = base.stream().map(m -> m.termWeights).toArray(float[][]::new);
        }

        @Override
        public CompressedDocument map(Long i) {
            int b = (int) (i % keys.length);
            Memory m = new Memory("rep-" + i, 0, keys[b], states[b], scales[b], pieces[b], 0, null, null)
                    .withTerms(terms[b], termWeights[b]);
            return CompressedDocument.upsert("bench", m, 0, false);
        }
    }

    /**
     * Bytes in, bytes out. A class rather than a lambda: the Kafka sink of connector 5 infers its value schema's
     * type for Flink's lineage graph, which it cannot do for a lambda.
     */
    static final class BytesSchema implements DeserializationSchema<byte[]>, SerializationSchema<byte[]> {
        @Override
        public byte[] deserialize(byte[] message) {
            return message;
        }

        @Override
        public byte[] serialize(byte[] element) {
            return element;
        }

        @Override
        public boolean isEndOfStream(byte[] next) {
            return false;
        }

        @Override
        public TypeInformation<byte[]> getProducedType() {
            return PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;
        }
    }

    private static Map<String, Answer> await(CmtClient client, Set<String> ids, Duration timeout) {
        Map<String, Answer> found = new HashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!found.keySet().containsAll(ids) && System.nanoTime() < deadline) {
            for (Answer a : client.pollAnswers(Duration.ofMillis(200))) {
                if (ids.contains(a.getQueryId())) {
                    found.put(a.getQueryId(), a);
                }
            }
        }
        if (!found.keySet().containsAll(ids)) {
            throw new IllegalStateException((ids.size() - found.size()) + " answers missing after " + timeout);
        }
        return found;
    }

    private static Document document(String id, String text) {
        return Document.newBuilder().setTenant("bench").setId(id).setText(text).setOp(DocumentOp.UPSERT)
                .setPublishedAt(Instant.now()).build();
    }

    private static Query query(String id, String question) {
        return Query.newBuilder().setTenant("bench").setId(id).setQuestion(question).setAskedAt(Instant.now()).build();
    }

}
