package io.cmtstream.reliability;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.compress.ModelFailingException;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.model.FailingModel;
import io.cmtstream.model.ModelSpec;
import io.cmtstream.testing.AnswerLog;
import io.cmtstream.testing.TestRecords;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.runtime.clusterframework.ApplicationStatus;
import org.apache.flink.runtime.executiongraph.AccessExecutionVertex;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.cmtstream.testing.TestRecords.document;
import static io.cmtstream.testing.TestRecords.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model that throws on one record: the record becomes one {@code MODEL_ERROR} dead letter after its tries and
 * the job runs on without a restart; a model that throws on every record fails the job, naming the option.
 *
 * <p>The model is the test model wrapped in {@link FailingModel} (it throws on any text containing
 * {@value #POISON}), loaded into the task manager's model registry before the jobs start: the job's functions
 * acquire it by its directory, a copy of the test model's made for this class alone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelErrorITCase {
    private static final String POISON = "POISON";
    private static final int ATTEMPTS = 3;

    private ReliabilityCluster cluster;
    private FailingModel.Preloaded preloaded;
    private String modelDir;

    @BeforeAll
    void start() throws Exception {
        cluster = ReliabilityCluster.start(1, 2, "documents-broken", "queries-broken", "answers-broken",
                "dead-letters-broken");
        Path dir = Files.createDirectories(cluster.work.resolve("failing-model"));
        Files.copy(ReliabilityCluster.MODEL.resolve("model.json"), dir.resolve("model.json"));
        modelDir = dir.toString();
        preloaded = FailingModel.preload(ModelSpec.of(modelDir), text -> text.contains(POISON));
    }

    @AfterAll
    void stop() throws Exception {
        // The cluster first: its jobs hold handles on the model too.
        ReliabilityCluster.closeAll(cluster, preloaded);
    }

    @Test
    void aRecordTheModelFailsOnBecomesOneDeadLetterAndTheJobRunsOnWithoutARestart() throws Exception {
        long started = System.nanoTime();
        JobID job = cluster.submit(Map.of("cmt.model.dir", modelDir, "cmt.model.record-attempts",
                String.valueOf(ATTEMPTS)), 2, null);
        String t = "faults";
        Document poisoned = document(t, "poisoned", POISON + ": the model throws on this document.");
        cluster.publish(document(t, "good-1", "The lighthouse keeper lit the lamp every evening."));
        cluster.publish(poisoned);
        cluster.publish(document(t, "good-2", "A violin has four strings tuned in fifths."));
        Query poisonedQuery = query(t, "q-poisoned", POISON + " who lit the lamp?", 10);
        cluster.publish(poisonedQuery);
        cluster.publish(query(t, "q-bank", "Who lit the lamp?", 10));

        Map<String, DeadLetter> deadLetters = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : cluster.readDeadLetters(2, Duration.ofSeconds(2))) {
            DeadLetter d = TestRecords.decodeDeadLetter(r.value());
            assertEquals(null, deadLetters.put(d.getTopic(), d), "one dead letter per record: " + d);
            assertEquals(d.getTopic() + "/" + utf8(d.getKey()), new String(r.key(), StandardCharsets.UTF_8));
        }
        assertEquals(Set.of("documents", "queries"), deadLetters.keySet());

        DeadLetter ofDocument = deadLetters.get("documents");
        assertTrue(ofDocument.getReason().startsWith("MODEL_ERROR: compress of document faults/poisoned failed 3 "
                + "times: java.lang.IllegalStateException: injected: the model fails on this text"),
                ofDocument.getReason());
        assertEquals(-1, ofDocument.getPartition());
        assertEquals(-1L, ofDocument.getOffset());
        assertEquals("faults/poisoned", utf8(ofDocument.getKey()));
        assertEquals(poisoned, new AvroDecoder<>(Document.class).decode(bytes(ofDocument.getPayload())));

        DeadLetter ofQuery = deadLetters.get("queries");
        assertTrue(ofQuery.getReason().startsWith("MODEL_ERROR: encodeQuery of query faults/q-poisoned failed 3 "
                + "times: java.lang.IllegalStateException: injected"), ofQuery.getReason());
        assertEquals(poisonedQuery, new AvroDecoder<>(Query.class).decode(bytes(ofQuery.getPayload())));

        try (AnswerLog answers = cluster.answers()) {
            Answer bank = answers.await(t, "q-bank");
            answers.drain(Duration.ofSeconds(1));
            Set<String> ids = bank.getEvidence().stream().map(Evidence::getDocId)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(Set.of("good-1", "good-2"), ids, "the poisoned document is in no bank");
            assertFalse(answers.byQuery.containsKey(AnswerLog.key(t, "q-poisoned")),
                    "a dead-lettered query has no answer");
            assertEquals(1, answers.byQuery.get(AnswerLog.key(t, "q-bank")).size());
        }
        // Each poisoned record was given to the model alone, once per try.
        assertEquals(2 * ATTEMPTS, preloaded.model().aloneCalls());
        assertEquals(JobStatus.RUNNING, cluster.status(job));
        for (AccessExecutionVertex v : cluster.flink.getExecutionGraph(job).get(10, TimeUnit.SECONDS)
                .getAllExecutionVertices()) {
            assertEquals(0, v.getCurrentExecutionAttempt().getAttemptNumber(), v.getTaskNameWithSubtaskIndex());
        }
        cluster.flink.cancelJob(job).get(30, TimeUnit.SECONDS);
        cluster.await("job cancelled", () -> cluster.status(job).isGloballyTerminalState());
        System.out.printf("MODEL ERROR: 1 document and 1 query the model throws on: 2 dead letters MODEL_ERROR "
                        + "after %d tries each, the other 2 documents stored and the other query answered, task "
                        + "restarts 0 (%d s)%n%s%n%s%n", ATTEMPTS, (System.nanoTime() - started) / 1_000_000_000,
                ofDocument.getReason(), ofQuery.getReason());
    }

    @Test
    void aModelFailingOnRecordAfterRecordFailsTheJobNamingTheOption() throws Exception {
        long started = System.nanoTime();
        preloaded.model().failEverything(true);
        try {
            Map<String, String> job = new HashMap<>(Map.of("cmt.model.dir", modelDir,
                    "cmt.model.record-attempts", "2", "cmt.model.max-consecutive-failures", "3",
                    "cmt.kafka.group-id", "broken", "restart-strategy.type", "none"));
            job.putAll(Map.of("cmt.kafka.topic.documents", "documents-broken",
                    "cmt.kafka.topic.queries", "queries-broken", "cmt.kafka.topic.answers", "answers-broken",
                    "cmt.kafka.topic.dead-letters", "dead-letters-broken"));
            JobID id = cluster.submit(job, 1, null);
            for (int i = 0; i < 5; i++) {
                cluster.send("documents-broken", null, "broken/d" + i, io.cmtstream.client.AvroBytes.encode(
                        document("broken", "d" + i, "Document number " + i + " about nothing in particular.")));
            }
            JobResult result = cluster.flink.requestJobResult(id).get(ReliabilityCluster.TIMEOUT.toSeconds(),
                    TimeUnit.SECONDS);
            assertEquals(ApplicationStatus.FAILED, result.getApplicationStatus());
            Throwable failure = result.getSerializedThrowable().orElseThrow()
                    .deserializeError(getClass().getClassLoader());
            String chain = causes(failure);
            // The records' calls run concurrently and the ordered async operator fails with the failure of the
            // record at the head of its queue, which may be the third to fail or a later one.
            java.util.regex.Matcher failing = java.util.regex.Pattern.compile(
                    java.util.regex.Pattern.quote(ModelFailingException.class.getName()) + ": the model failed on (\\d+) "
                    + "records in a row in compress \\(cmt\\.model\\.max-consecutive-failures\\), the last one "
                    + "document broken/d").matcher(chain);
            assertTrue(failing.find(), chain);
            assertTrue(Integer.parseInt(failing.group(1)) >= 3, chain);
            assertTrue(chain.contains("injected: the model is broken"), chain);
            System.out.printf("MODEL ERROR: a model failing on every record failed the job after %s records in a "
                    + "row (%d s): %s%n", failing.group(1), (System.nanoTime() - started) / 1_000_000_000,
                    chain.lines().filter(l -> l.contains("ModelFailingException")).findFirst().orElse("?"));
        } finally {
            preloaded.model().failEverything(false);
        }
    }

    private static String causes(Throwable t) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = t; c != null && out.length() < 100_000; c = c.getCause()) {
            out.append(c).append('\n');
            if (c.getCause() == c) {
                break;
            }
        }
        return out.toString();
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static String utf8(ByteBuffer buffer) {
        return new String(bytes(buffer), StandardCharsets.UTF_8);
    }
}
