package io.cmtstream.answer;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.memory.ShardHits;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The merge of shard top-k on Flink's operator test harness: completion, state cleanup, abandoned queries. */
public class MergeShardHitsTest {
    private static final long RETENTION = 60_000;
    private static final long FAR_FUTURE = Long.MAX_VALUE - 1;

    public static KeyedTwoInputStreamOperatorTestHarness<String, EncodedQuery, ShardHits, RetrievedContext> harness(
            int shards) throws Exception {
        return new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new MergeShardHits(shards, RETENTION)),
                q -> MergeShardHits.key(q.tenant, q.queryId), h -> MergeShardHits.key(h.tenant, h.queryId),
                Types.STRING);
    }

    public static EncodedQuery encoded(String tenant, String id, long askedAt) {
        EncodedQuery q = new EncodedQuery();
        q.tenant = tenant;
        q.queryId = id;
        q.question = "Why?";
        q.askedAt = askedAt;
        q.topK = 2;
        q.key = new float[] {1, 0};
        return q;
    }

    static ShardHits hits(String tenant, String id, int shard, long askedAt, MemoryHit... hits) {
        ShardHits h = new ShardHits();
        h.tenant = tenant;
        h.queryId = id;
        h.shard = shard;
        h.askedAt = askedAt;
        h.searched = hits.length;
        h.hits = hits;
        return h;
    }

    /** The merge's time is the shards' (the documents'); the queries' input holds none. */
    static void bankWatermark(KeyedTwoInputStreamOperatorTestHarness<String, ?, ?, ?> h, long watermark)
            throws Exception {
        h.processWatermark1(new Watermark(FAR_FUTURE));
        h.processWatermark2(new Watermark(watermark));
    }

    @Test
    void aCompleteQueryIsMergedOnceAndLeavesNoStateOrTimer() throws Exception {
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement2(new StreamRecord<>(hits("acme", "q", 1, 100, new MemoryHit("b", 0.5f)), 100L));
            h.processElement1(new StreamRecord<>(encoded("acme", "q", 100), 100L));
            assertEquals(List.of(), h.extractOutputValues());
            h.processElement2(new StreamRecord<>(hits("acme", "q", 0, 100, new MemoryHit("a", 0.9f)), 100L));
            List<RetrievedContext> out = h.extractOutputValues();
            assertEquals(1, out.size());
            assertEquals(List.of("a", "b"), List.of(out.get(0).hits[0].docId, out.get(0).hits[1].docId));
            assertEquals(0, h.numKeyedStateEntries());
            assertEquals(0, h.numEventTimeTimers());
        }
    }

    @Test
    void aQueryThatNeverCompletesIsDroppedOnceTheWatermarkIsTheRetentionPastItsAskedAt() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement1(new StreamRecord<>(encoded("acme", "lost", 100), 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "lost", 0, 100), 100L));
            // Results of a shard whose query never reached this merge are dropped the same way.
            h.processElement2(new StreamRecord<>(hits("acme", "orphan", 0, 200), 200L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(2)) {
            h.initializeState(snapshot);
            h.open();
            assertEquals(2, h.numEventTimeTimers());
            bankWatermark(h, 100 + RETENTION - 1);
            assertEquals(2, h.numEventTimeTimers());
            bankWatermark(h, 200 + RETENTION);
            assertEquals(0, h.numEventTimeTimers());
            assertTrue(h.numKeyedStateEntries() > 0, "kept until as long again of wall-clock time passed");
            h.setProcessingTime(RETENTION);
            assertEquals(List.of(), h.extractOutputValues());
            assertEquals(0, h.numKeyedStateEntries());
            assertEquals(0, h.numProcessingTimeTimers());
        }
    }

    @Test
    void aMergeHalfDoneAtASnapshotCompletesOnceAfterTheRestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement1(new StreamRecord<>(encoded("acme", "q", 100), 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "q", 0, 100, new MemoryHit("a", 0.5f)), 100L));
            assertEquals(List.of(), h.extractOutputValues());
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(2)) {
            h.initializeState(snapshot);
            h.open();
            h.processElement2(new StreamRecord<>(hits("acme", "q", 1, 100, new MemoryHit("b", 0.9f)), 100L));
            List<RetrievedContext> out = h.extractOutputValues();
            assertEquals(1, out.size(), "merged once, from the shard hits kept in the snapshot and the new ones");
            assertEquals("Why?", out.get(0).query.question, "the query itself came back from the snapshot");
            assertEquals(List.of("b", "a"), List.of(out.get(0).hits[0].docId, out.get(0).hits[1].docId));
            assertEquals(0, h.numKeyedStateEntries());
            assertEquals(0, h.numEventTimeTimers());
        }
    }

    @Test
    void aQueryReadInListedOrderGetsItsMemoriesInThatOrderWithScoresThatNeverRiseAcrossASnapshot()
            throws Exception {
        EncodedQuery q = encoded("acme", "rank3", 100);
        q.topK = 3;
        q.restrictTo = new String[] {"other1", "other2", "gold"};
        q.readInListedOrder = true;
        OperatorSubtaskState snapshot;
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement1(new StreamRecord<>(q, 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "rank3", 0, 100,
                    new MemoryHit("gold", 0.9f, 0.8f, null, null, null),
                    new MemoryHit("other2", 0.3f, 0.4f, null, null, null)), 100L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(2)) {
            h.initializeState(snapshot);
            h.open();
            h.processElement2(new StreamRecord<>(hits("acme", "rank3", 1, 100,
                    new MemoryHit("other1", 0.5f, 0.2f, null, null, null)), 100L));
            List<RetrievedContext> out = h.extractOutputValues();
            assertEquals(1, out.size());
            MemoryHit[] read = out.get(0).hits;
            assertEquals(List.of("other1", "other2", "gold"), List.of(read[0].docId, read[1].docId, read[2].docId),
                    "the listed order across both shards, the best match read last");
            assertEquals(List.of(0.5f, 0.3f, 0.3f), List.of(read[0].score, read[1].score, read[2].score));
            assertEquals(List.of(0.2f, 0.2f, 0.2f), List.of(read[0].keyScore, read[1].keyScore, read[2].keyScore));
            assertEquals(0, h.numKeyedStateEntries());
        }
    }

    @Test
    void theListedOrderIsIgnoredWithoutRestrictTo() throws Exception {
        EncodedQuery q = encoded("acme", "open", 100);
        q.readInListedOrder = true;
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement1(new StreamRecord<>(q, 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "open", 0, 100, new MemoryHit("b", 0.5f)), 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "open", 1, 100, new MemoryHit("a", 0.9f)), 100L));
            MemoryHit[] read = h.extractOutputValues().get(0).hits;
            assertEquals(List.of("a", "b"), List.of(read[0].docId, read[1].docId), "best first");
            assertEquals(List.of(0.9f, 0.5f), List.of(read[0].score, read[1].score));
        }
    }

    @Test
    void theDocumentsChangedSinceAskedAtOfAllShardsReachTheContextOnceEachInOrder() throws Exception {
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement1(new StreamRecord<>(encoded("acme", "q", 100), 100L));
            ShardHits first = hits("acme", "q", 0, 100, new MemoryHit("a", 0.9f));
            first.changed = new String[] {"d7", "d2"};
            ShardHits second = hits("acme", "q", 1, 100, new MemoryHit("b", 0.5f));
            second.changed = new String[] {"d2", "d1"};
            h.processElement2(new StreamRecord<>(first, 100L));
            h.processElement2(new StreamRecord<>(second, 100L));
            assertEquals(List.of("d1", "d2", "d7"), List.of(h.extractOutputValues().get(0).changed));
        }
    }

    @Test
    void aWatermarkJumpPastTheRetentionDoesNotDropAQueryWhosePartsAreStillOnTheirWay() throws Exception {
        // The fuzz run's lost answers: every shard's hits were in, the query itself was still on its way, and a
        // burst of later-dated documents moved the watermark a year ahead in between.
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement2(new StreamRecord<>(hits("acme", "q", 0, 100, new MemoryHit("a", 0.9f)), 100L));
            h.processElement2(new StreamRecord<>(hits("acme", "q", 1, 100, new MemoryHit("b", 0.5f)), 100L));
            bankWatermark(h, 100 + 365 * 24 * 3_600_000L);
            h.setProcessingTime(RETENTION - 1);
            h.processElement1(new StreamRecord<>(encoded("acme", "q", 100), 100L));
            List<RetrievedContext> out = h.extractOutputValues();
            assertEquals(1, out.size(), "answered, not abandoned");
            assertEquals(List.of("a", "b"), List.of(out.get(0).hits[0].docId, out.get(0).hits[1].docId));
            h.setProcessingTime(10 * RETENTION);
            assertEquals(0, h.numKeyedStateEntries());
        }
    }

    @Test
    void afterARestoreTheMissingPartsGetTheRetentionOfWallClockTimeAgain() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(2)) {
            h.open();
            bankWatermark(h, 0);
            h.processElement2(new StreamRecord<>(hits("acme", "q", 0, 100, new MemoryHit("a", 0.9f)), 100L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(2)) {
            // Restored long after: the other parts are replayed from upstream, which takes a moment.
            h.setProcessingTime(50 * RETENTION);
            h.initializeState(snapshot);
            h.open();
            bankWatermark(h, 100 + 2 * RETENTION);
            h.setProcessingTime(50 * RETENTION + RETENTION / 2);
            h.processElement2(new StreamRecord<>(hits("acme", "q", 1, 100, new MemoryHit("b", 0.5f)), 100L));
            h.processElement1(new StreamRecord<>(encoded("acme", "q", 100), 100L));
            assertEquals(1, h.extractOutputValues().size(), "answered after the restore");
        }
    }
}
