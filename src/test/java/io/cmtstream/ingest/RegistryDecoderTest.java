package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.registry.RegistryFraming;
import io.cmtstream.registry.RegistryRetry;
import io.cmtstream.registry.RegistrySettings;
import io.cmtstream.registry.RegistryUnavailableException;
import io.cmtstream.registry.SchemaRegistryClient;
import io.cmtstream.testing.RegistryRecords;
import io.cmtstream.testing.SchemaRegistryFixture;
import io.cmtstream.testing.TestRecords;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryDecoderTest {
    @RegisterExtension
    final SchemaRegistryFixture registry = SchemaRegistryFixture.forEachTest();
    private final List<Long> sleeps = new ArrayList<>();

    private RegistryDecoder<Document> documents(RegistryRetry.Sleeper sleeper) {
        return new RegistryDecoder<>(Document.class,
                new SchemaRegistryClient(RegistrySettings.builder(registry.url()).build()),
                new RegistryRetry(1_000, sleeper));
    }

    private RegistryDecoder<Document> documents() {
        return documents(sleeps::add);
    }

    @Test
    void aDocumentOfAnEvolvedProducerSchemaIsReadWithTheJobsSchema() throws Exception {
        int id = registry.register("documents-value", RegistryRecords.EVOLVED_DOCUMENT);
        Instant at = Instant.ofEpochMilli(1_700_000_000_000L);
        byte[] value = RegistryFraming.frame(id,
                RegistryRecords.evolvedDocument("t", "d1", "Some text.", "en", at));
        Document d = documents().decode(value);
        assertEquals("t", d.getTenant());
        assertEquals("d1", d.getId());
        assertEquals("Some text.", d.getText());
        assertEquals(at, d.getPublishedAt());
        assertNull(d.getTitle(), "a field the producer removed takes the job's default");
    }

    @Test
    void aDocumentOfTheJobsOwnSchemaRoundTrips() throws Exception {
        int id = registry.register("documents-value", Document.getClassSchema());
        Document original = TestRecords.document("t", "d2", "Text.");
        assertEquals(original, documents().decode(RegistryRecords.framed(id, original)));
    }

    @Test
    void anUnknownSchemaIdIsRefusedWithAStableCodeAndAskedOnce() {
        RegistryDecoder<Document> decoder = documents();
        byte[] value = RegistryRecords.framed(777, TestRecords.document("t", "d", "x"));
        for (int i = 0; i < 3; i++) {
            InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> decoder.decode(value));
            assertEquals(Rejection.UNKNOWN_SCHEMA_ID, Rejection.of(e.getMessage()), e.getMessage());
        }
        assertEquals(1, registry.requests("GET /schemas/ids/777"));
        assertTrue(sleeps.isEmpty(), "an unknown id is an answer, not a reason to wait");
    }

    @Test
    void anUnframedValueIsMalformed() {
        byte[] plain = io.cmtstream.client.AvroBytes.encode(TestRecords.document("t", "d", "x"));
        InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> documents().decode(plain));
        assertEquals(Rejection.MALFORMED_AVRO, Rejection.of(e.getMessage()));
        InvalidRecordException empty = assertThrows(InvalidRecordException.class,
                () -> documents().decode(new byte[0]));
        assertEquals(Rejection.MALFORMED_AVRO, Rejection.of(empty.getMessage()));
    }

    @Test
    void aWriterSchemaTheJobCannotReadIsTheWrongSchema() {
        int id = registry.register("documents-value", RegistryRecords.INCOMPATIBLE_DOCUMENT);
        byte[] value = RegistryFraming.frame(id, new byte[] {2, 't', 2, 'd', 0});
        InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> documents().decode(value));
        assertEquals(Rejection.WRONG_SCHEMA, Rejection.of(e.getMessage()), e.getMessage());
        assertTrue(e.getMessage().contains("text"), e.getMessage());
    }

    @Test
    void aQueryOnTheDocumentsTopicIsTheWrongSchema() {
        int id = registry.register("queries-value", Query.getClassSchema());
        byte[] value = RegistryRecords.framed(id, TestRecords.query("t", "q", "Why?", 3));
        InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> documents().decode(value));
        assertEquals(Rejection.WRONG_SCHEMA, Rejection.of(e.getMessage()), e.getMessage());
    }

    @Test
    void aHostileLengthPrefixIsRefusedAgainstTheWritersSchema() {
        int id = registry.register("documents-value", RegistryRecords.EVOLVED_DOCUMENT);
        byte[] good = RegistryFraming.frame(id,
                RegistryRecords.evolvedDocument("t", "d", "text", null, Instant.now()));
        // tenant's length prefix announcing ~2^30 bytes in a record of a few dozen.
        byte[] hostile = Arrays.copyOf(good, good.length);
        byte[] prefix = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x08};
        byte[] out = new byte[hostile.length + prefix.length - 1];
        System.arraycopy(hostile, 0, out, 0, RegistryFraming.HEADER_BYTES);
        System.arraycopy(prefix, 0, out, RegistryFraming.HEADER_BYTES, prefix.length);
        System.arraycopy(hostile, RegistryFraming.HEADER_BYTES + 1, out, RegistryFraming.HEADER_BYTES + prefix.length,
                hostile.length - RegistryFraming.HEADER_BYTES - 1);
        InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> documents().decode(out));
        assertEquals(Rejection.MALFORMED_AVRO, Rejection.of(e.getMessage()), e.getMessage());
    }

    @Test
    void trailingBytesAfterTheWritersRecordAreTheWrongSchema() {
        int id = registry.register("documents-value", Document.getClassSchema());
        byte[] framed = RegistryRecords.framed(id, TestRecords.document("t", "d", "x"));
        byte[] longer = Arrays.copyOf(framed, framed.length + 3);
        InvalidRecordException e = assertThrows(InvalidRecordException.class, () -> documents().decode(longer));
        assertEquals(Rejection.WRONG_SCHEMA, Rejection.of(e.getMessage()), e.getMessage());
    }

    @Test
    void anUnreachableRegistryIsWaitedForAndNothingIsRefused() throws Exception {
        int id = registry.register("documents-value", RegistryRecords.EVOLVED_DOCUMENT);
        byte[] value = RegistryFraming.frame(id, RegistryRecords.evolvedDocument("t", "d", "x", null, Instant.now()));
        registry.stop();
        List<Long> waited = new ArrayList<>();
        RegistryDecoder<Document> decoder = documents(millis -> {
            waited.add(millis);
            if (waited.size() == 3) {
                try {
                    registry.start();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        assertEquals("d", decoder.decode(value).getId());
        assertEquals(List.of(100L, 200L, 400L), waited);
    }

    @Test
    void theIngestDeserializerNeverDeadLettersAnInterruptedWait() {
        int id = registry.register("documents-value", RegistryRecords.EVOLVED_DOCUMENT);
        byte[] value = RegistryFraming.frame(id, RegistryRecords.evolvedDocument("t", "d", "x", null, Instant.now()));
        registry.stop();
        IngestDeserializer<Document> deserializer = new IngestDeserializer<>(
                () -> documents(millis -> { throw new InterruptedException(); }),
                d -> d, d -> d.getPublishedAt().toEpochMilli(), null);
        try {
            assertThrows(RegistryUnavailableException.class,
                    () -> deserializer.ingest("documents", 0, 5, null, value));
        } finally {
            Thread.interrupted();
        }
    }
}
