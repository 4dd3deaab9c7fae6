package io.cmtstream.app;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Evidence;
import io.cmtstream.client.CmtClient;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.squad.SquadDataset;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end on real components: an in-process Kafka broker (KRaft), a Flink MiniCluster with the RocksDB state
 * backend, the real model through DJL, exactly-once answers read with read_committed. One broker and one running
 * job are shared by the tests of this class; each test uses its own tenant so they cannot see each other.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CmtStreamJobITCase {
    /** The bundled trained model when present, else the retrieval-only one (evidence is real either way). */
    static final Path MODEL = Files.exists(Path.of("models/cmt-bge-small-squad/model.json"))
            ? Path.of("models/cmt-bge-small-squad") : Path.of("src/test/resources/models/retrieval-only");
    static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(3);

    private EmbeddedCluster cluster;
    private CmtClient client;
    private boolean hasReader;
    private SquadDataset squad;

    @BeforeAll
    void startJob() throws Exception {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("cmt.model.dir", MODEL.toString());
        settings.put("cmt.memory.shards", "3");
        settings.put("cmt.checkpoint.interval", "1 s");
        cluster = EmbeddedCluster.start(settings, false);
        hasReader = cluster.model().hasReader();
        client = cluster.client();
        squad = SquadDataset.load(Path.of("data/squad/squad-v1.1-dev-open.json"));
        // One round trip before the tests: until a source's first fetch returns, its partition looks quiet and its
        // watermark follows the wall clock (cmt.watermark.idle-timeout), so on a slow start a query could be
        // matched before a document published just ahead of it was read.
        client.publish(document("warm-up", "d", "The lighthouse keeper lit the lamp at dusk."));
        client.flush();
        client.publish(query("warm-up", "q", "Who lit the lamp?", null));
        client.flush();
        awaitAnswers("warm-up", 1);
    }

    @AfterAll
    void stopJob() throws Exception {
        if (client != null) {
            client.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void answerToAQuestionAboutADocumentCitesThatDocument() {
        String tenant = "squad-" + UUID.randomUUID().toString().substring(0, 8);
        // One paragraph from each of four articles: a clear-cut case for matching.
        List<SquadDataset.Question> asked = new ArrayList<>();
        for (String title : List.of("Nikola_Tesla", "Genghis_Khan", "Islamism", "Fresno,_California")) {
            SquadDataset article = squad.select(List.of(title));
            SquadDataset.Paragraph p = article.paragraphs().get(0);
            client.publish(document(tenant, p.id(), p.context()));
            asked.add(article.questions().stream().filter(q -> q.paragraphId().equals(p.id())).findFirst().orElseThrow());
        }
        client.flush();
        for (SquadDataset.Question q : asked) {
            client.publish(query(tenant, q.id(), q.question(), null));
        }
        client.flush();

        Map<String, Answer> answers = awaitAnswers(tenant, asked.size());
        for (SquadDataset.Question q : asked) {
            Answer a = answers.get(q.id());
            List<String> evidence = a.getEvidence().stream().map(Evidence::getDocId).toList();
            assertEquals(q.paragraphId(), evidence.get(0), "best evidence for '" + q.question() + "'");
            assertEquals(hasReader ? AnswerStatus.ANSWERED : AnswerStatus.NO_READER, a.getStatus());
            assertEquals(hasReader, !a.getAnswer().isBlank(), "answer text for '" + q.question() + "'");
            assertTrue(a.getModelVersion().contains("@"), a.getModelVersion());
            assertTrue(a.getEvidence().get(0).getScore() > a.getEvidence().get(evidence.size() - 1).getScore()
                    || evidence.size() == 1);
        }
    }

    @Test
    void askReturnsAFutureCompletedByItsOwnAnswerAndPublishReturnsTheSendFuture() throws Exception {
        String tenant = "ask-" + UUID.randomUUID().toString().substring(0, 8);
        List<SquadDataset.Question> asked = new ArrayList<>();
        for (String title : List.of("Nikola_Tesla", "Genghis_Khan")) {
            SquadDataset article = squad.select(List.of(title));
            SquadDataset.Paragraph p = article.paragraphs().get(1);
            RecordMetadata sent = client.publish(document(tenant, p.id(), p.context())).get(30, TimeUnit.SECONDS);
            assertTrue(sent.offset() >= 0, "the send future carries where the document landed");
            asked.add(article.questions().stream().filter(q -> q.paragraphId().equals(p.id())).findFirst()
                    .orElseThrow());
        }
        // Two questions in flight at once; each future gets its own answer, whatever order they come in.
        List<CompletableFuture<Answer>> futures = new ArrayList<>();
        for (SquadDataset.Question q : asked) {
            futures.add(client.ask(query(tenant, q.id(), q.question(), null)));
        }
        IllegalStateException twice = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> client.ask(query(tenant, asked.get(0).id(), "the same id again", null)));
        assertTrue(twice.getMessage().contains(asked.get(0).id()), twice.getMessage());
        for (int i = 0; i < asked.size(); i++) {
            Answer a = futures.get(i).orTimeout(ANSWER_TIMEOUT.toSeconds(), TimeUnit.SECONDS).get();
            assertEquals(asked.get(i).id(), a.getQueryId());
            assertEquals(tenant, a.getTenant());
            assertEquals(asked.get(i).paragraphId(), a.getEvidence().get(0).getDocId());
        }
    }

    @Test
    void malformedRecordGoesToDeadLettersAndTheNextRecordIsStillAnswered() throws Exception {
        String tenant = "dlq-" + UUID.randomUUID().toString().substring(0, 8);
        byte[] garbage = "this is not avro \u0000\u0001".getBytes(StandardCharsets.UTF_8);
        client.send("documents", "garbage", garbage);
        client.publish(document(tenant, "empty", " "));
        SquadDataset.Paragraph p = squad.select(List.of("Islamism")).paragraphs().get(3);
        client.publish(document(tenant, p.id(), p.context()));
        client.flush();
        client.publish(query(tenant, "q1", "What is Islamism?", null));
        client.flush();

        Map<String, Answer> answers = awaitAnswers(tenant, 1);
        assertEquals(p.id(), answers.get("q1").getEvidence().get(0).getDocId());

        List<DeadLetter> letters = readDeadLetters(2);
        DeadLetter malformed = letters.stream().filter(d -> d.getReason().startsWith("MALFORMED_AVRO")).findFirst()
                .orElseThrow(() -> new AssertionError("no MALFORMED_AVRO dead letter in " + letters));
        assertEquals("documents", malformed.getTopic());
        assertTrue(malformed.getOffset() >= 0);
        assertArrayEquals(garbage, bytes(malformed.getPayload()));
        assertTrue(letters.stream().anyMatch(d -> d.getReason().startsWith("EMPTY_TEXT")), letters.toString());
    }

    @Test
    void queryNeverSeesAnotherTenantsMemory() {
        String owner = "owner-" + UUID.randomUUID().toString().substring(0, 8);
        String stranger = "stranger-" + UUID.randomUUID().toString().substring(0, 8);
        SquadDataset.Paragraph p = squad.select(List.of("Genghis_Khan")).paragraphs().get(1);
        client.publish(document(owner, p.id(), p.context()));
        client.flush();
        client.publish(query(stranger, "q", "Who was Genghis Khan?", null));
        client.publish(query(owner, "q", "Who was Genghis Khan?", null));
        client.flush();

        Answer strangers = awaitAnswers(stranger, 1).get("q");
        Answer owners = awaitAnswers(owner, 1).get("q");
        assertTrue(strangers.getEvidence().isEmpty(), "stranger saw " + strangers.getEvidence());
        assertEquals(hasReader ? AnswerStatus.NO_MEMORY : AnswerStatus.NO_READER, strangers.getStatus());
        assertEquals(p.id(), owners.getEvidence().get(0).getDocId());
    }

    private final Map<String, Map<String, Answer>> answersByTenant = new HashMap<>();

    /** Reads the answers topic until {@code count} answers of {@code tenant} arrived; other tenants' are kept. */
    private Map<String, Answer> awaitAnswers(String tenant, int count) {
        long deadline = System.nanoTime() + ANSWER_TIMEOUT.toNanos();
        Map<String, Answer> mine = answersByTenant.computeIfAbsent(tenant, t -> new HashMap<>());
        while (mine.size() < count && System.nanoTime() < deadline) {
            for (Answer a : client.pollAnswers(Duration.ofMillis(500))) {
                Answer previous = answersByTenant.computeIfAbsent(a.getTenant(), t -> new HashMap<>())
                        .put(a.getQueryId(), a);
                assertEquals(null, previous, "second answer for " + a.getTenant() + "/" + a.getQueryId());
            }
        }
        assertEquals(count, mine.size(), "answers of tenant " + tenant + " within " + ANSWER_TIMEOUT);
        return mine;
    }

    private List<DeadLetter> readDeadLetters(int atLeast) throws Exception {
        Properties c = new Properties();
        c.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "dlq-reader-" + UUID.randomUUID());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroDecoder<DeadLetter> decoder = new AvroDecoder<>(DeadLetter.class);
        List<DeadLetter> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(Set.of("dead-letters"));
            long deadline = System.nanoTime() + ANSWER_TIMEOUT.toNanos();
            while (out.size() < atLeast && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    DeadLetter d = decoder.decode(r.value());
                    Header code = r.headers().lastHeader(CmtStreamJob.REASON_HEADER);
                    assertNotNull(code, "no " + CmtStreamJob.REASON_HEADER + " header on " + d);
                    assertEquals(d.getReason().substring(0, d.getReason().indexOf(':')),
                            new String(code.value(), StandardCharsets.UTF_8), "header of " + d);
                    out.add(d);
                }
            }
        }
        assertFalse(out.size() < atLeast, "dead letters: " + out);
        return out;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
