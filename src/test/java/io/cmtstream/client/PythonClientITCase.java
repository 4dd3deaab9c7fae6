package io.cmtstream.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cmtstream.app.CmtStreamJob;
import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.testing.DebianPython;
import io.cmtstream.testing.SchemaRegistryFixture;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.util.FileUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.app.CmtStreamOptions.ANSWERS_TOPIC;
import static io.cmtstream.app.CmtStreamOptions.DEAD_LETTERS_TOPIC;
import static io.cmtstream.app.CmtStreamOptions.DOCUMENTS_TOPIC;
import static io.cmtstream.app.CmtStreamOptions.QUERIES_TOPIC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Python client of {@code examples/python/} against the real job: it publishes documents with Python's Avro,
 * asks a question and prints the answer, and reads back as a dead letter a bad record it published, with the
 * {@code cmt.reason} header; once on plain Avro, once in the job's schema registry mode (against
 * {@link SchemaRegistryFixture}). Its output (JSON lines) is what is asserted, so the test also pins what the README
 * of the example shows.
 *
 * <p>Needs Debian's {@code /usr/bin/python3} with python3-confluent-kafka and python3-avro: skipped, saying what is
 * missing, where they are absent, except under {@code CI=true}, where that fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PythonClientITCase {
    private static final Path CLIENT = Path.of("examples/python/cmt_client.py");
    private static final Path MODEL = Files.exists(Path.of("models/cmt-bge-small-squad/model.json"))
            ? Path.of("models/cmt-bge-small-squad") : Path.of("src/test/resources/models/retrieval-only");
    private static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(3);
    private static final ObjectMapper JSON = new ObjectMapper();

    private EmbeddedCluster cluster;
    private boolean hasReader;
    private Path work;

    /** Why the test cannot run here (null: it can), said where it is skipped. */
    private String skipReason;

    @BeforeAll
    void start() throws Exception {
        skipReason = DebianPython.unavailable(List.of("confluent_kafka", "avro"),
                "python3-confluent-kafka python3-avro");
        if (skipReason != null) {
            // Said here and in the test: surefire neither counts nor shows an abort in @BeforeAll.
            System.err.println("PythonClientITCase: " + skipReason);
            return;
        }
        work = Files.createTempDirectory("cmt-python-client");
        cluster = EmbeddedCluster.start(Map.of("cmt.model.dir", MODEL.toString(), "cmt.memory.shards", "2",
                "cmt.checkpoint.interval", "1 s"), false);
        hasReader = cluster.model().hasReader();
    }

    @AfterAll
    void stop() throws Exception {
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            if (work != null) {
                FileUtils.deleteDirectoryQuietly(work.toFile());
            }
        }
    }

    @Test
    void pythonClientPublishesAsksAndReadsItsBadRecordAsADeadLetter() throws Exception {
        Assumptions.assumeTrue(skipReason == null, skipReason);
        String tenant = "py-" + UUID.randomUUID().toString().substring(0, 8);
        publish(tenant, "lighthouse", "The Bell Rock Lighthouse, off the coast of Angus in Scotland, was built "
                + "between 1807 and 1810 by the engineer Robert Stevenson and is the oldest sea-washed lighthouse.");
        publish(tenant, "violin", "The violin is a wooden string instrument with four strings, played with a bow "
                + "made of horsehair.");
        publish(tenant, "volcano", "Volcanoes erupt molten rock, ash and gases from deep inside the earth.");
        JsonNode bad = publish(tenant, "empty", "");

        String queryId = "q-" + UUID.randomUUID();
        JsonNode answer = single(python("ask", "--tenant", tenant, "--query-id", queryId,
                "--question", "Who built the Bell Rock Lighthouse?",
                "--timeout", String.valueOf(ANSWER_TIMEOUT.toSeconds())));
        assertEquals(queryId, answer.get("queryId").asText());
        assertEquals(tenant, answer.get("tenant").asText());
        assertEquals(hasReader ? "ANSWERED" : "NO_READER", answer.get("status").asText(), answer.toString());
        assertEquals("lighthouse", answer.get("evidence").get(0).get("docId").asText(), answer.toString());
        assertEquals(hasReader, !answer.get("answer").asText().isBlank(), answer.toString());

        JsonNode letter = single(python("dead-letters", "--code", "EMPTY_TEXT", "--max", "1",
                "--timeout", String.valueOf(ANSWER_TIMEOUT.toSeconds())));
        assertEquals(bad.get("topic").asText(), letter.get("topic").asText());
        assertEquals(bad.get("partition").asInt(), letter.get("partition").asInt());
        assertEquals(bad.get("offset").asLong(), letter.get("offset").asLong(), letter.toString());
        assertTrue(letter.get("reason").asText().startsWith("EMPTY_TEXT: "), letter.toString());
        assertEquals("EMPTY_TEXT", letter.get("headers").get(CmtStreamJob.REASON_HEADER).asText(), letter.toString());
        System.out.printf("PYTHON CLIENT: answer '%s' (%s) from %s; dead letter %s%n", answer.get("answer").asText(),
                answer.get("status").asText(), answer.get("evidence").get(0).get("docId").asText(),
                letter.get("reason").asText());
    }

    @Test
    void pythonClientSpeaksTheSchemaRegistryFramingOfTheJob() throws Exception {
        Assumptions.assumeTrue(skipReason == null, skipReason);
        try (SchemaRegistryFixture registry = SchemaRegistryFixture.started();
             // Its own transactional ids: the connector refuses two sinks of one prefix in one JVM, and the
             // plain-Avro job of this class runs beside it.
             EmbeddedCluster framed = EmbeddedCluster.start(Map.of("cmt.model.dir", MODEL.toString(),
                     "cmt.memory.shards", "2", "cmt.checkpoint.interval", "1 s",
                     "cmt.delivery.transactional-id-prefix", "cmt-stream-registry",
                     "cmt.kafka.value-format", "AVRO_REGISTRY", "cmt.registry.url", registry.url()), false)) {
            List<String> viaRegistry = List.of("--registry-url", registry.url());
            String tenant = "py-registry-" + UUID.randomUUID().toString().substring(0, 8);
            publish(framed, viaRegistry, tenant, "lighthouse", "The Bell Rock Lighthouse, off the coast of Angus "
                    + "in Scotland, was built between 1807 and 1810 by the engineer Robert Stevenson.");
            publish(framed, viaRegistry, tenant, "violin", "The violin is a wooden string instrument with four "
                    + "strings, played with a bow made of horsehair.");
            JsonNode bad = publish(framed, viaRegistry, tenant, "empty", "");
            // The Python client registered the documents' schema; the job, its answers' and dead letters'.
            assertEquals(1, registry.versions("documents-value").size());

            String queryId = "q-" + UUID.randomUUID();
            JsonNode answer = single(python(framed, viaRegistry, "ask", "--tenant", tenant, "--query-id", queryId,
                    "--question", "Who built the Bell Rock Lighthouse?",
                    "--timeout", String.valueOf(ANSWER_TIMEOUT.toSeconds())));
            assertEquals(queryId, answer.get("queryId").asText());
            assertEquals("lighthouse", answer.get("evidence").get(0).get("docId").asText(), answer.toString());
            assertEquals(1, registry.versions("answers-value").size(), "the job's answers are framed");

            JsonNode letter = single(python(framed, viaRegistry, "dead-letters", "--code", "EMPTY_TEXT", "--max", "1",
                    "--timeout", String.valueOf(ANSWER_TIMEOUT.toSeconds())));
            assertEquals(bad.get("offset").asLong(), letter.get("offset").asLong(), letter.toString());
            assertEquals("EMPTY_TEXT", letter.get("headers").get(CmtStreamJob.REASON_HEADER).asText());
            System.out.printf("PYTHON CLIENT (schema registry): answer '%s' (%s) from %s; dead letter %s%n",
                    answer.get("answer").asText(), answer.get("status").asText(),
                    answer.get("evidence").get(0).get("docId").asText(), letter.get("reason").asText());
        }
    }

    private JsonNode publish(String tenant, String docId, String text) throws Exception {
        return publish(cluster, List.of(), tenant, docId, text);
    }

    private JsonNode publish(EmbeddedCluster on, List<String> global, String tenant, String docId, String text)
            throws Exception {
        JsonNode where = single(python(on, global, "publish", "--tenant", tenant, "--doc-id", docId, "--text", text));
        assertEquals(tenant + "/" + docId, where.get("key").asText());
        assertTrue(where.get("offset").asLong() >= 0, where.toString());
        return where;
    }

    private static JsonNode single(List<JsonNode> lines) {
        assertEquals(1, lines.size(), "one JSON line expected: " + lines);
        return lines.get(0);
    }

    private List<JsonNode> python(String... args) throws Exception {
        return python(cluster, List.of(), args);
    }

    /**
     * Runs the client on the broker and topics of {@code on}, with {@code global} flags before the command; returns
     * its standard output's JSON lines.
     */
    private List<JsonNode> python(EmbeddedCluster on, List<String> global, String... args) throws Exception {
        Configuration conf = on.configuration();
        List<String> command = new ArrayList<>(List.of(DebianPython.PYTHON.toString(), CLIENT.toString(),
                "--bootstrap-servers", on.bootstrapServers(), "--schemas", "schemas",
                "--documents-topic", conf.get(DOCUMENTS_TOPIC), "--queries-topic", conf.get(QUERIES_TOPIC),
                "--answers-topic", conf.get(ANSWERS_TOPIC), "--dead-letters-topic", conf.get(DEAD_LETTERS_TOPIC)));
        command.addAll(global);
        command.addAll(List.of(args));
        File out = Files.createTempFile(work, "stdout", ".txt").toFile();
        File err = Files.createTempFile(work, "stderr", ".txt").toFile();
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out).redirectError(err);
        builder.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        Process process = builder.start();
        if (!process.waitFor(ANSWER_TIMEOUT.toSeconds() + 60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            fail("python client timed out: " + command + "\n" + read(out) + read(err));
        }
        assertEquals(0, process.exitValue(), "python client failed: " + command + "\n" + read(out) + read(err));
        List<JsonNode> lines = new ArrayList<>();
        for (String line : read(out).split("\n")) {
            if (!line.isBlank()) {
                lines.add(JSON.readTree(line));
            }
        }
        assertFalse(lines.isEmpty(), "no output from " + command + "\n" + read(err));
        return lines;
    }

    private static String read(File f) throws IOException {
        return Files.readString(f.toPath(), StandardCharsets.UTF_8);
    }
}
