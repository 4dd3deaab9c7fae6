package io.cmtstream.memory;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory bank operator on Flink's operator test harness: pending queries, timers, restore. */
public class MemoryShardFunctionTest {
    static final ShardAssigner ONE_SHARD = new ShardAssigner(1);
    /** The queries' own input holds no time (ingest/QueriesHoldNoTime); a shard runs on the documents'. */
    static final long FAR_FUTURE = Long.MAX_VALUE - 1;

    public static KeyedTwoInputStreamOperatorTestHarness<String, CompressedDocument, ShardQuery, ShardHits> harness(
            ShardAssigner assigner) throws Exception {
        return new KeyedTwoInputStreamOperatorTestHarness<>(new KeyedCoProcessOperator<>(new MemoryShardFunction()),
                d -> assigner.keyOfDocument(d.tenant, d.docId), q -> assigner.key(q.tenant, q.shard), Types.STRING);
    }

    static KeyedTwoInputStreamOperatorTestHarness<String, CompressedDocument, ShardQuery, ShardHits> harness(
            ShardAssigner assigner, BankLayout layout) throws Exception {
        return new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new MemoryShardFunction(true, layout)),
                d -> assigner.keyOfDocument(d.tenant, d.docId), q -> assigner.key(q.tenant, q.shard), Types.STRING);
    }

    public static CompressedDocument document(String tenant, String docId, float... key) {
        return CompressedDocument.upsert(tenant, MemoryBankTest.memory(docId, key), 10, false);
    }

    public static ShardQuery query(String tenant, String id, int shard, long askedAt) {
        ShardQuery q = PendingQueriesTest.query(id, askedAt);
        q.tenant = tenant;
        q.shard = shard;
        return q;
    }

    static void documentWatermark(KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ?> h, long watermark)
            throws Exception {
        h.processWatermark1(new Watermark(watermark));
        h.processWatermark2(new Watermark(FAR_FUTURE));
        releaseReady(h);
    }

    /** Fires the processing-time timers that match released queries, one step after another, until none is left. */
    public static void releaseReady(KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ?> h) throws Exception {
        while (h.numProcessingTimeTimers() > 0) {
            h.setProcessingTime(h.getProcessingTime() + 1);
        }
    }

    private static List<String> answered(KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ShardHits> h) {
        List<String> ids = h.extractOutputValues().stream().map(hits -> hits.queryId).toList();
        h.getOutput().clear();
        return ids;
    }

    @Test
    void aQueryWaitsUntilTheDocumentWatermarkPassesItsAskedAtAndSeesEveryEarlierDocument() throws Exception {
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(document("acme", "d1", 1, 0), 50L));
            h.processElement2(new StreamRecord<>(query("acme", "q", 0, 100), 100L));
            assertEquals(List.of(), answered(h));
            h.processElement1(new StreamRecord<>(document("acme", "d2", 0, 1), 90L));
            documentWatermark(h, 99);
            assertEquals(List.of(), answered(h));
            documentWatermark(h, 100);
            List<ShardHits> out = h.extractOutputValues();
            assertEquals(1, out.size());
            assertEquals(2, out.get(0).searched, "both documents published before askedAt were applied");
            assertEquals(100, out.get(0).askedAt);
            assertEquals(0, h.numEventTimeTimers());
        }
    }

    @Test
    void eachWatermarkStepReleasesExactlyTheQueriesItPassesAndTheRestKeepWaiting() throws Exception {
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(document("acme", "d1", 1, 0), 1L));
            for (int i = 0; i < 10_000; i++) {
                long askedAt = 1_000 + i / 4;
                h.processElement2(new StreamRecord<>(query("acme", "q" + i, 0, askedAt), askedAt));
            }
            assertEquals(2_500, h.numEventTimeTimers(), "one timer per distinct askedAt");
            int released = 0;
            for (long watermark = 1_000; watermark <= 3_500; watermark += 250) {
                documentWatermark(h, watermark);
                List<String> ids = answered(h);
                int expected = (int) Math.min(10_000, (watermark - 1_000 + 1) * 4) - released;
                assertEquals(expected, ids.size(), "released at watermark " + watermark);
                assertEquals("q" + released, ids.get(0));
                released += ids.size();
            }
            assertEquals(10_000, released);
            assertEquals(0, h.numEventTimeTimers());
            assertEquals(1, h.numKeyedStateEntries(), "only the memory is left");
        }
    }

    /** Opens {@code h} with one memory and {@code n} queries q0.. asked at {@code askedAt(i)}, all still waiting. */
    private static void oneMemoryAndWaitingQueries(
            KeyedTwoInputStreamOperatorTestHarness<String, CompressedDocument, ShardQuery, ShardHits> h, int n,
            java.util.function.IntToLongFunction askedAt) throws Exception {
        h.open();
        h.processWatermark2(new Watermark(FAR_FUTURE));
        h.processWatermark1(new Watermark(0));
        h.processElement1(new StreamRecord<>(document("acme", "d1", 1, 0), 1L));
        for (int i = 0; i < n; i++) {
            long at = askedAt.applyAsLong(i);
            h.processElement2(new StreamRecord<>(query("acme", "q" + i, 0, at), at));
        }
    }

    @Test
    void aWatermarkThatReleasesABurstEmitsNothingInItsOwnStepThenOneBoundedBatchPerStep() throws Exception {
        int burst = 5 * MemoryShardFunction.RELEASE_BATCH + 3;
        try (var h = harness(ONE_SHARD)) {
            oneMemoryAndWaitingQueries(h, burst, i -> 100L + i);
            h.processWatermark1(new Watermark(100 + burst));
            assertEquals(List.of(), answered(h), "the watermark's own step only files the released queries");
            assertEquals(0, h.numEventTimeTimers());
            List<String> all = new java.util.ArrayList<>();
            int steps = 0;
            while (h.numProcessingTimeTimers() > 0) {
                h.setProcessingTime(h.getProcessingTime() + 1);
                List<String> step = answered(h);
                assertTrue(step.size() <= MemoryShardFunction.RELEASE_BATCH, "one step emitted " + step.size());
                all.addAll(step);
                steps++;
            }
            assertEquals(java.util.stream.IntStream.range(0, burst).mapToObj(i -> "q" + i).toList(), all,
                    "every released query once, in askedAt order");
            assertEquals(6, steps);
            assertEquals(1, h.numKeyedStateEntries(), "only the memory is left");
        }
    }

    @Test
    void releasedQueriesNotYetMatchedSurviveASnapshotAndRestore() throws Exception {
        int burst = 2 * MemoryShardFunction.RELEASE_BATCH;
        OperatorSubtaskState snapshot;
        try (var h = harness(ONE_SHARD)) {
            oneMemoryAndWaitingQueries(h, burst, i -> 100L);
            h.processWatermark1(new Watermark(100));
            h.setProcessingTime(h.getProcessingTime() + 1);
            assertEquals(MemoryShardFunction.RELEASE_BATCH, answered(h).size());
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(ONE_SHARD)) {
            h.initializeState(snapshot);
            h.open();
            assertEquals(1, h.numProcessingTimeTimers(), "the next batch's timer was restored");
            releaseReady(h);
            List<ShardHits> out = h.extractOutputValues();
            assertEquals(java.util.stream.IntStream.range(MemoryShardFunction.RELEASE_BATCH, burst)
                    .mapToObj(i -> "q" + i).toList(), out.stream().map(o -> o.queryId).toList());
            assertEquals(1, out.get(0).searched, "the key matrix was rebuilt from the restored state");
        }
    }

    private static CompressedDocument publishedAt(String docId, long publishedAt, float... key) {
        CompressedDocument d = document("acme", docId, key);
        d.memory.publishedAt = publishedAt;
        d.publishedAt = publishedAt;
        return d;
    }

    /** A query whose topK exceeds the bank, so its evidence is every candidate. */
    private static ShardQuery wide(String tenant, String id, int shard, long askedAt) {
        ShardQuery q = query(tenant, id, shard, askedAt);
        q.topK = 10;
        return q;
    }

    private static List<String> evidence(KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ShardHits> h) {
        List<ShardHits> out = h.extractOutputValues();
        h.getOutput().clear();
        assertEquals(1, out.size());
        return java.util.Arrays.stream(out.get(0).hits).map(hit -> hit.docId).sorted().toList();
    }

    @Test
    void aLateProcessedQueryIsMatchedAsOfItsAskedAtNotAsOfWhenItRuns() throws Exception {
        try (var h = harness(ONE_SHARD)) {
            h.open();
            h.processElement1(new StreamRecord<>(publishedAt("before", 100, 1, 0), 100L));
            h.processElement1(new StreamRecord<>(publishedAt("after", 300, 1, 0), 300L));
            documentWatermark(h, 1_000);
            // Asked at 200 but processed after the watermark passed 300 (a replay, or a late query): the memory
            // published at 300 is not a candidate, whether the query is matched on arrival...
            h.processElement2(new StreamRecord<>(wide("acme", "late", 0, 200), 200L));
            assertEquals(List.of("before"), evidence(h));
            // ...or by its timer, among other queries released together.
            h.processElement2(new StreamRecord<>(wide("acme", "pending", 0, 2_000), 2_000L));
            h.processElement2(new StreamRecord<>(wide("acme", "pending", 0, 2_000), 2_000L));
            h.processElement1(new StreamRecord<>(publishedAt("later", 2_001, 1, 0), 2_001L));
            documentWatermark(h, 2_000);
            List<ShardHits> out = h.extractOutputValues();
            h.getOutput().clear();
            assertEquals(2, out.size());
            for (ShardHits hits : out) {
                assertEquals(List.of("after", "before"),
                        java.util.Arrays.stream(hits.hits).map(hit -> hit.docId).sorted().toList());
            }
            // A query restricted to named documents is held to its askedAt the same way.
            ShardQuery restricted = wide("acme", "scoped", 0, 200);
            restricted.restrictTo = new String[] {"before", "after"};
            h.processElement2(new StreamRecord<>(restricted, 200L));
            assertEquals(List.of("before"), evidence(h));
        }
    }

    private static ShardQuery restricted(String id, long askedAt, boolean inListedOrder) {
        ShardQuery q = query("acme", id, 0, askedAt);
        q.topK = 2;
        q.restrictTo = new String[] {"weak", "middle", "best"};
        q.readInListedOrder = inListedOrder;
        return q;
    }

    private static List<String> docIds(ShardHits hits) {
        return java.util.Arrays.stream(hits.hits).map(hit -> hit.docId).toList();
    }

    @Test
    void aQueryReadInListedOrderGetsTheFirstListedMemoriesNotTheBestMatching() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(ONE_SHARD)) {
            h.open();
            h.processElement1(new StreamRecord<>(document("acme", "best", 1, 0), 10L));
            h.processElement1(new StreamRecord<>(document("acme", "weak", 0, 1), 10L));
            h.processElement1(new StreamRecord<>(document("acme", "middle", 0.6f, 0.8f), 10L));
            documentWatermark(h, 100);
            h.processElement2(new StreamRecord<>(restricted("listed", 100, true), 100L));
            h.processElement2(new StreamRecord<>(restricted("by-score", 100, false), 100L));
            List<ShardHits> out = h.extractOutputValues();
            assertEquals(List.of("weak", "middle"), docIds(out.get(0)));
            assertEquals(List.of("best", "middle"), docIds(out.get(1)));
            // One asked later waits for the watermark, through a snapshot: the order is kept in its state.
            h.processElement2(new StreamRecord<>(restricted("pending", 200, true), 200L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(ONE_SHARD)) {
            h.initializeState(snapshot);
            h.open();
            documentWatermark(h, 200);
            List<ShardHits> out = h.extractOutputValues();
            assertEquals(List.of("pending"), out.stream().map(hits -> hits.queryId).toList());
            assertEquals(List.of("weak", "middle"), docIds(out.get(0)));
        }
    }

    @Test
    void withAsOfAskedAtOffALateQuerySeesEverythingAlreadyApplied() throws Exception {
        try (var h = new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new MemoryShardFunction(false, BankLayout.UNKNOWN)),
                (CompressedDocument d) -> ONE_SHARD.keyOfDocument(d.tenant, d.docId),
                (ShardQuery q) -> ONE_SHARD.key(q.tenant, q.shard), Types.STRING)) {
            h.open();
            h.processElement1(new StreamRecord<>(publishedAt("before", 100, 1, 0), 100L));
            h.processElement1(new StreamRecord<>(publishedAt("after", 300, 1, 0), 300L));
            documentWatermark(h, 1_000);
            h.processElement2(new StreamRecord<>(wide("acme", "late", 0, 200), 200L));
            assertEquals(List.of("after", "before"), evidence(h));
        }
    }

    @Test
    void twoPendingQueriesWithTheSameIdAreBothAnswered() throws Exception {
        // Duplicates are refused before fan-out (ingest/QueryIdGuard); the shard must still never drop one.
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement2(new StreamRecord<>(query("acme", "same", 0, 100), 100L));
            h.processElement2(new StreamRecord<>(query("acme", "same", 0, 200), 200L));
            documentWatermark(h, 200);
            assertEquals(List.of("same", "same"), answered(h));
        }
    }

    @Test
    void pendingQueriesSurviveASnapshotAndRestoreAndFireAfterIt() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(document("acme", "d1", 1, 0), 1L));
            h.processElement2(new StreamRecord<>(query("acme", "early", 0, 100), 100L));
            h.processElement2(new StreamRecord<>(query("acme", "late", 0, 300), 300L));
            documentWatermark(h, 100);
            assertEquals(List.of("early"), answered(h));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(ONE_SHARD)) {
            h.initializeState(snapshot);
            h.open();
            assertEquals(1, h.numEventTimeTimers());
            documentWatermark(h, 299);
            assertEquals(List.of(), answered(h));
            documentWatermark(h, 300);
            List<ShardHits> out = h.extractOutputValues();
            assertEquals(1, out.size());
            assertEquals("late", out.get(0).queryId);
            assertEquals(1, out.get(0).searched, "the key matrix was rebuilt from the restored state");
            assertTrue(out.get(0).hits.length == 1 && out.get(0).hits[0].docId.equals("d1"));
        }
    }

    private static OperatorSubtaskState bankWrittenUnder(BankLayout layout) throws Exception {
        try (var h = harness(ONE_SHARD, layout)) {
            h.open();
            h.processElement1(new StreamRecord<>(document("acme", "d1", 1, 0), 1L));
            return h.snapshot(1, 1);
        }
    }

    /** The failure a restore under {@code layout} ends in: restarts suppressed, the reason inside. */
    private static String refusedRestore(OperatorSubtaskState snapshot, BankLayout layout) throws Exception {
        try (var h = harness(ONE_SHARD, layout)) {
            Exception e = assertThrows(Exception.class, () -> h.initializeState(snapshot));
            Throwable t = e;
            while (t != null && !(t instanceof SuppressRestartsException)) {
                t = t.getCause();
            }
            assertInstanceOf(SuppressRestartsException.class, t, "a restart would only fail again: " + e);
            return t.getCause().getMessage();
        }
    }

    @Test
    void aBankRestoredUnderAnotherShardCountOrModelFailsAtStartNamingTheOption() throws Exception {
        BankLayout written = new BankLayout(4, 0, "384x384-aaaa");
        OperatorSubtaskState snapshot = bankWrittenUnder(written);

        String shards = refusedRestore(snapshot, new BankLayout(8, 0, "384x384-aaaa"));
        assertTrue(shards.contains("cmt.memory.shards=4") && shards.contains("restored with 8"), shards);
        String model = refusedRestore(snapshot, new BankLayout(4, 0, "384x384-bbbb"));
        assertTrue(model.contains("cmt.model.dir") && model.contains("384x384-aaaa")
                && model.contains("384x384-bbbb"), model);

        // The same layout restores, and the memory is there.
        try (var h = harness(ONE_SHARD, written)) {
            h.initializeState(snapshot);
            h.open();
            documentWatermark(h, 100);
            h.processElement2(new StreamRecord<>(query("acme", "q", 0, 100), 100L));
            assertEquals(1, h.extractOutputValues().get(0).searched);
        }
    }

    @Test
    void aBankWithNoRecordedLayoutRestoresAndRecordsItsLayoutFromThenOn() throws Exception {
        // A savepoint from before the layout was recorded, or a bank written without a readable model.
        OperatorSubtaskState old = bankWrittenUnder(BankLayout.UNKNOWN);
        OperatorSubtaskState next;
        try (var h = harness(ONE_SHARD, new BankLayout(4, 0, "384x384-aaaa"))) {
            h.initializeState(old);
            h.open();
            next = h.snapshot(2, 2);
        }
        String refusal = refusedRestore(next, new BankLayout(2, 0, "384x384-aaaa"));
        assertTrue(refusal.contains("cmt.memory.shards=4"), refusal);
    }

    @Test
    void anUpsertReplacesItsMemoryAndADeleteRemovesItAlsoAfterARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(publishedAt("d1", 1, 1, 0), 1L));
            h.processElement1(new StreamRecord<>(publishedAt("d2", 2, 0, 1), 2L));
            // d1 again, now with d2's direction: one memory for d1, the new one.
            h.processElement1(new StreamRecord<>(publishedAt("d1", 3, 0, 1), 3L));
            h.processElement2(new StreamRecord<>(wide("acme", "after-upsert", 0, 10), 10L));
            documentWatermark(h, 10);
            List<ShardHits> out = h.extractOutputValues();
            h.getOutput().clear();
            assertEquals(2, out.get(0).searched, "an upsert replaces, it does not add");
            assertEquals(out.get(0).hits[0].score, out.get(0).hits[1].score, 1e-6f,
                    "d1's memory is its new version, as close to the question as d2");

            h.processElement1(new StreamRecord<>(CompressedDocument.delete("acme", "d2", 11), 11L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(ONE_SHARD)) {
            h.initializeState(snapshot);
            h.open();
            h.processElement2(new StreamRecord<>(wide("acme", "after-delete", 0, 20), 20L));
            documentWatermark(h, 20);
            assertEquals(List.of("d1"), evidence(h), "the delete held across the restore");
            assertEquals(2, h.numKeyedStateEntries(),
                    "the memories and the version windows (the harness counts a map state once per key)");
        }
    }

    @Test
    void aLateMatchedQueryNamesTheDocumentsReplacedOrDeletedSinceItsAskedAtAlsoAfterARestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(ONE_SHARD)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(publishedAt("d1", 10, 1, 0), 10L));
            h.processElement1(new StreamRecord<>(publishedAt("d2", 20, 0, 1), 20L));
            h.processElement1(new StreamRecord<>(publishedAt("d3", 30, 1, 1), 30L));
            h.processElement1(new StreamRecord<>(publishedAt("d1", 300, 1, 0), 300L));  // d1 replaced at 300
            h.processElement1(new StreamRecord<>(CompressedDocument.delete("acme", "d2", 400), 400L));
            documentWatermark(h, 1_000);
            // Asked at 100, matched at 1,000: d1's version of 10 and d2 are gone; d3 is as it was.
            h.processElement2(new StreamRecord<>(wide("acme", "late", 0, 100), 100L));
            h.processElement2(new StreamRecord<>(wide("acme", "after", 0, 500), 500L));
            h.processElement2(new StreamRecord<>(wide("acme", "before", 0, 5), 5L));
            assertEquals(java.util.Map.of("late", List.of("d1", "d2"), "after", List.of(), "before", List.of()),
                    changedByQuery(h));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(ONE_SHARD)) {
            h.initializeState(snapshot);
            h.open();
            documentWatermark(h, 1_000);
            h.processElement2(new StreamRecord<>(wide("acme", "late-again", 0, 100), 100L));
            assertEquals(java.util.Map.of("late-again", List.of("d1", "d2")), changedByQuery(h),
                    "the windows came back with the restore");
        }
    }

    @Test
    void versionWindowsAreForgottenOnceTheWatermarkIsTheRetentionPastTheirEnd() throws Exception {
        try (var h = new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new MemoryShardFunction(true, BankLayout.UNKNOWN, 1_000)),
                (CompressedDocument d) -> ONE_SHARD.keyOfDocument(d.tenant, d.docId),
                (ShardQuery q) -> ONE_SHARD.key(q.tenant, q.shard), Types.STRING)) {
            h.open();
            documentWatermark(h, 0);
            h.processElement1(new StreamRecord<>(publishedAt("d1", 10, 1, 0), 10L));
            h.processElement1(new StreamRecord<>(CompressedDocument.delete("acme", "d1", 50), 50L));
            documentWatermark(h, 2_000);
            // The next document prunes: the window ended at 50, more than 1,000 before the watermark.
            h.processElement1(new StreamRecord<>(publishedAt("d2", 2_000, 0, 1), 2_000L));
            h.processElement2(new StreamRecord<>(wide("acme", "replayed", 0, 20), 20L));
            assertEquals(java.util.Map.of("replayed", List.of()), changedByQuery(h));
            assertEquals(1, h.numKeyedStateEntries(), "only d2's memory is left");
        }
    }

    private static java.util.Map<String, List<String>> changedByQuery(
            KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ShardHits> h) {
        java.util.Map<String, List<String>> out = new java.util.HashMap<>();
        for (ShardHits hits : h.extractOutputValues()) {
            out.put(hits.queryId, hits.changed == null ? List.of() : List.of(hits.changed));
        }
        h.getOutput().clear();
        return out;
    }
}
