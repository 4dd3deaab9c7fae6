package io.cmtstream.ingest;

import io.cmtstream.avro.Query;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-tenant cap on queries waiting for the document watermark, on Flink's operator test harness. */
class TenantBacklogTest {
    private static final int CAP = QueryAdmission.DEFAULT_MAX_PENDING;

    static Ingested<Query> query(String tenant, String id, long askedAt, long offset) {
        Query q = Query.newBuilder().setTenant(tenant).setId(id).setQuestion("Why?")
                .setAskedAt(Instant.ofEpochMilli(askedAt)).build();
        return Ingested.valid(q, askedAt).from("queries", 1, offset, null, new byte[] {7});
    }

    static KeyedTwoInputStreamOperatorTestHarness<String, Ingested<Query>, Long, Ingested<Query>> harness(int cap)
            throws Exception {
        return new KeyedTwoInputStreamOperatorTestHarness<>(new KeyedCoProcessOperator<>(new TenantBacklog<Long>(cap)),
                QueryAdmission::tenantKey, w -> "", Types.STRING);
    }

    /** The document watermark arrives on input 2; the queries' own input holds no time. */
    static void documentWatermark(KeyedTwoInputStreamOperatorTestHarness<String, Ingested<Query>, Long, ?> h,
                                  long watermark) throws Exception {
        h.processWatermark1(new Watermark(QueriesHoldNoTime.FAR_FUTURE));
        h.processWatermark2(new Watermark(watermark));
    }

    private static long refused(List<Ingested<Query>> out, String code) {
        return out.stream().filter(in -> !in.isValid() && in.deadLetter.getReason().startsWith(code + ": ")).count();
    }

    @Test
    void floodOfFiftyThousandQueriesAdmitsTheCapAndRefusesTheRestUntilTheWatermarkMoves() throws Exception {
        try (var h = harness(CAP)) {
            h.open();
            documentWatermark(h, 999);
            for (int i = 0; i < 50_000; i++) {
                long askedAt = 1_000 + i / 10; // ten queries per millisecond, all ahead of the watermark
                h.processElement1(new StreamRecord<>(query("acme", "q" + i, askedAt, i), askedAt));
            }
            List<Ingested<Query>> out = h.extractOutputValues();
            assertEquals(50_000, out.size(), "one outcome per query");
            assertEquals(CAP, out.stream().filter(Ingested::isValid).count());
            assertEquals(50_000 - CAP, refused(out, "OVERLOADED"));
            // The first ones in are admitted, and a refusal is the dead letter of the query's own record.
            assertTrue(out.subList(0, CAP).stream().allMatch(Ingested::isValid));
            Ingested<Query> last = out.get(out.size() - 1);
            assertEquals("queries", last.deadLetter.getTopic());
            assertEquals(1, last.deadLetter.getPartition());
            assertEquals(49_999, last.deadLetter.getOffset());
            // Timer work is bounded by distinct askedAt times of admitted queries, not by queries seen.
            assertEquals(CAP / 10, h.numEventTimeTimers());

            // The watermark passes the first 2,000 admitted queries (askedAt 1000..1199): room for 2,000 more.
            h.getOutput().clear();
            documentWatermark(h, 1_199);
            for (int i = 0; i < 2_001; i++) {
                h.processElement1(new StreamRecord<>(query("acme", "r" + i, 5_000, 60_000 + i), 5_000L));
            }
            out = h.extractOutputValues();
            assertEquals(2_000, out.stream().filter(Ingested::isValid).count());
            assertEquals(1, refused(out, "OVERLOADED"));

            // Once the watermark passes every askedAt the tenant has nothing waiting, and no state or timer is left.
            documentWatermark(h, 10_000);
            assertEquals(0, h.numEventTimeTimers());
            assertEquals(0, h.numKeyedStateEntries());
        }
    }

    @Test
    void queriesTheWatermarkHasPassedAreMatchedAtOnceAndNeverCounted() throws Exception {
        try (var h = harness(1)) {
            h.open();
            documentWatermark(h, 5_000);
            for (int i = 0; i < 100; i++) {
                h.processElement1(new StreamRecord<>(query("acme", "old" + i, 4_000 + i, i), 4_000L + i));
            }
            h.processElement1(new StreamRecord<>(query("acme", "waits", 6_000, 100), 6_000L));
            h.processElement1(new StreamRecord<>(query("acme", "one-too-many", 6_000, 101), 6_000L));
            List<Ingested<Query>> out = h.extractOutputValues();
            assertEquals(101, out.stream().filter(Ingested::isValid).count());
            assertFalse(out.get(101).isValid());
            assertTrue(out.get(101).deadLetter.getReason().contains("cmt.query.max-pending"), out.get(101).deadLetter.getReason());
        }
    }

    @Test
    void eachTenantHasItsOwnCap() throws Exception {
        try (var h = harness(2)) {
            h.open();
            documentWatermark(h, 0);
            for (String tenant : List.of("acme", "acme", "acme", "globex", "globex")) {
                h.processElement1(new StreamRecord<>(query(tenant, "q", 100, 0), 100L));
            }
            List<Ingested<Query>> out = h.extractOutputValues();
            assertEquals(List.of(true, true, false, true, true), out.stream().map(Ingested::isValid).toList());
        }
    }

    @Test
    void deadLettersFromTheSourcePassThroughUntouched() throws Exception {
        try (var h = harness(1)) {
            h.open();
            Ingested<Query> bad = query("acme", "q", 100, 3).refused(Rejection.EMPTY_TEXT, "question is empty");
            h.processElement1(new StreamRecord<>(bad));
            List<Ingested<Query>> out = h.extractOutputValues();
            assertEquals(1, out.size());
            assertEquals(bad.deadLetter, out.get(0).deadLetter);
            assertEquals(0, h.numKeyedStateEntries());
        }
    }

    @Test
    void theCountSurvivesASnapshotAndRestoreAndStillDrains() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(3)) {
            h.open();
            documentWatermark(h, 0);
            for (int i = 0; i < 3; i++) {
                h.processElement1(new StreamRecord<>(query("acme", "q" + i, 100 + i, i), 100L + i));
            }
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(3)) {
            h.initializeState(snapshot);
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(query("acme", "full", 500, 3), 500L));
            assertFalse(h.extractOutputValues().get(0).isValid(), "three still wait after the restore");
            h.getOutput().clear();
            documentWatermark(h, 100);
            h.processElement1(new StreamRecord<>(query("acme", "room", 500, 4), 500L));
            assertTrue(h.extractOutputValues().get(0).isValid(), "the one asked at 100 was released");
        }
    }
}
