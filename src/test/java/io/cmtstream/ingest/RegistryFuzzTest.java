package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.ingest.HostileRecords.Hostile;
import io.cmtstream.registry.RegistryFraming;
import io.cmtstream.registry.RegistrySettings;
import io.cmtstream.testing.SchemaRegistryFixture;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The registry decoder against {@link IngestFuzzTest}'s hostile records, framed with the id of the job's own
 * schema: every one gets the same outcome as plain Avro (valid, or refused with the same stable code), the dead
 * letter keeps the framed bytes, and what is allocated stays bounded by the record's size, so the writer-schema
 * path (resolving reader, bounds walked against the registry's copy of the schema) is as hard to abuse.
 */
class RegistryFuzzTest {
    private static final IngestLimits LIMITS = new IngestLimits(1000, 200, 10);

    @RegisterExtension
    final SchemaRegistryFixture registry = SchemaRegistryFixture.forEachTest();

    @Test
    void framedHostileRecordsGetTheOutcomeOfPlainOnes() {
        int documentId = registry.register("documents-value", Document.getClassSchema());
        int queryId = registry.register("queries-value", Query.getClassSchema());
        RegistrySettings settings = RegistrySettings.builder(registry.url()).build();
        IngestDeserializer<Document> plainDocuments = new IngestDeserializer<>(Document.class,
                new DocumentValidator(LIMITS), d -> d.getPublishedAt().toEpochMilli(),
                TypeInformation.of(new TypeHint<Ingested<Document>>() {}));
        IngestDeserializer<Query> plainQueries = new IngestDeserializer<>(Query.class,
                new QueryValidator(LIMITS), q -> q.getAskedAt().toEpochMilli(),
                TypeInformation.of(new TypeHint<Ingested<Query>>() {}));
        IngestDeserializer<Document> framedDocuments = new IngestDeserializer<>(
                RegistryDecoder.factory(Document.class, settings), new DocumentValidator(LIMITS),
                d -> d.getPublishedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Document>>() {}));
        IngestDeserializer<Query> framedQueries = new IngestDeserializer<>(
                RegistryDecoder.factory(Query.class, settings), new QueryValidator(LIMITS),
                q -> q.getAskedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Query>>() {}));

        long seed = Long.getLong("cmt.fuzz.seed", 23);
        int records = Integer.getInteger("cmt.fuzz.records", 3000);
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // The first record of each kind fetches its schema over HTTP and fills Avro's caches.
        HostileRecords warmUp = new HostileRecords(~seed, 3);
        for (int i = 0; i < 300; i++) {
            Hostile h = warmUp.next();
            byte[] framed = RegistryFraming.frame(h.forDocuments() ? documentId : queryId, h.value());
            (h.forDocuments() ? framedDocuments : framedQueries).ingest(h.topic(), 0, i, null, framed);
        }
        HostileRecords gen = new HostileRecords(seed, 3);
        int refused = 0;
        for (int i = 0; i < records; i++) {
            Hostile h = gen.next();
            String what = "record " + i + " (seed " + seed + ", " + h.kind() + " on " + h.topic() + ")";
            byte[] framed = RegistryFraming.frame(h.forDocuments() ? documentId : queryId, h.value());
            Ingested<?> plain = h.forDocuments()
                    ? plainDocuments.ingest(h.topic(), 0, i, null, h.value())
                    : plainQueries.ingest(h.topic(), 0, i, null, h.value());
            long before = threads.getCurrentThreadAllocatedBytes();
            Ingested<?> in = h.forDocuments()
                    ? framedDocuments.ingest(h.topic(), 0, i, null, framed)
                    : framedQueries.ingest(h.topic(), 0, i, null, framed);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < (256 << 10) + 16L * framed.length, what + " allocated " + allocated);
            assertEquals(plain.isValid(), in.isValid(), what + ": plain " + reason(plain) + ", framed " + reason(in));
            if (!in.isValid()) {
                refused++;
                assertEquals(Rejection.of(plain.deadLetter.getReason()), Rejection.of(in.deadLetter.getReason()),
                        what + ": plain " + reason(plain) + ", framed " + reason(in));
                assertArrayEquals(framed, in.deadLetter.getPayload().array(), what);
            }
        }
        assertTrue(refused > records / 4, "refused " + refused + " of " + records);
        assertEquals(2, registry.requests("GET /schemas/ids/"), "one schema fetch per decoder");
    }

    private static String reason(Ingested<?> in) {
        return in.isValid() ? "valid" : in.deadLetter.getReason();
    }
}
