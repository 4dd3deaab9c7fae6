package io.cmtstream.app;

import io.cmtstream.answer.MergeShardHitsTest;
import io.cmtstream.answer.RetrievedContext;
import io.cmtstream.avro.Query;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.compress.QueryFanOut;
import io.cmtstream.ingest.Ingested;
import io.cmtstream.ingest.QueryAdmission;
import io.cmtstream.ingest.QueryIdGuard;
import io.cmtstream.ingest.TenantBacklog;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.memory.MemoryShardFunctionTest;
import io.cmtstream.memory.ShardAssigner;
import io.cmtstream.memory.ShardHits;
import io.cmtstream.memory.ShardQuery;
import org.apache.flink.api.common.functions.util.ListCollector;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.operators.co.KeyedCoProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A flood of queries while the document watermark is held back, through the query path of the job on Flink's
 * operator test harnesses, wired as {@link CmtStreamJob} wires them: per-tenant cap, duplicate ids, (encoding
 * stubbed) fan-out, the memory bank's shards, the merge. Watermarks are driven by hand.
 */
class QueryFloodTest {
    private static final int SHARDS = 2;
    private static final int CAP = QueryAdmission.DEFAULT_MAX_PENDING;
    private static final long FAR_FUTURE = Long.MAX_VALUE - 1;
    private static final long RETENTION = 3_600_000;

    private final ShardAssigner shards = new ShardAssigner(SHARDS);
    private KeyedTwoInputStreamOperatorTestHarness<String, Ingested<Query>, Long, Ingested<Query>> backlog;
    private KeyedOneInputStreamOperatorTestHarness<String, Ingested<Query>, Ingested<Query>> guard;
    private KeyedTwoInputStreamOperatorTestHarness<String, CompressedDocument, ShardQuery, ShardHits> bank;
    private KeyedTwoInputStreamOperatorTestHarness<String, EncodedQuery, ShardHits, RetrievedContext> merge;

    /** Outcomes per query id: answers and dead-letter codes. */
    private final Map<String, List<String>> outcomes = new HashMap<>();
    private final int[] waitingInShard = new int[SHARDS];
    private int mostWaitingInAShard;

    @Test
    void fiftyThousandQueriesUnderAHeldWatermarkEachEndOnceAndNoShardHoldsMoreThanTheCap() throws Exception {
        backlog = new KeyedTwoInputStreamOperatorTestHarness<>(
                new KeyedCoProcessOperator<>(new TenantBacklog<Long>(CAP)), QueryAdmission::tenantKey, w -> "",
                Types.STRING);
        guard = new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new QueryIdGuard(RETENTION)),
                QueryAdmission::queryKey, Types.STRING);
        bank = MemoryShardFunctionTest.harness(shards);
        merge = MergeShardHitsTest.harness(SHARDS);
        try {
            backlog.open();
            guard.open();
            bank.open();
            merge.open();
            documentWatermark(999);
            for (int d = 0; d < 8; d++) {
                bank.processElement1(new StreamRecord<>(MemoryShardFunctionTest.document("acme", "d" + d,
                        (float) Math.cos(d), (float) Math.sin(d)), 1L));
            }

            // 50,000 queries asked ahead of the held watermark, ten per millisecond; every 50th reuses the id of
            // the query before it.
            List<Ingested<Query>> sent = new ArrayList<>();
            for (int i = 0; i < 50_000; i++) {
                String id = i % 50 == 49 ? "q" + (i - 1) : "q" + i;
                sent.add(query(id, 1_000 + i / 10, i));
            }
            long t0 = System.nanoTime();
            List<Ingested<Query>> retry = admitAll(sent);
            System.out.println("FLOOD first pass " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            int distinct = 49_000;
            // The cap comes first (so an OVERLOADED query's id is not remembered and it may be sent again): the
            // first CAP queries in fill the tenant's budget, and the duplicates among them are then refused.
            assertEquals(CAP / 50, dead("DUPLICATE_QUERY_ID"));
            assertEquals(50_000 - CAP, retry.size(), "OVERLOADED, to retry");
            assertEquals(0, answers(), "nothing is answered while the watermark is held");
            assertTrue(mostWaitingInAShard <= CAP, "a shard held " + mostWaitingInAShard);

            // The watermark moves past the admitted queries' askedAt: exactly they are answered, and the shards
            // hold nothing.
            documentWatermark(1_999);
            assertEquals(CAP - CAP / 50, answers());
            assertEquals(0, waitingInShard[0] + waitingInShard[1]);
            assertEquals(0, bank.numEventTimeTimers());
            // Then past every askedAt: the refused queries, sent again with the same ids (an OVERLOADED query's id
            // is not remembered), are late now, so matched at once and never counted against the cap.
            documentWatermark(6_000);
            long t1 = System.nanoTime();
            retry = admitAll(retry);
            System.out.println("FLOOD retry " + (System.nanoTime() - t1) / 1_000_000 + " ms");
            assertEquals(List.of(), retry);
            for (Map.Entry<String, List<String>> e : outcomes.entrySet()) {
                assertEquals(1, e.getValue().stream().filter("ANSWERED"::equals).count(),
                        e.getKey() + " " + e.getValue());
            }
            assertEquals(distinct, outcomes.size());
            assertEquals(1_000, dead("DUPLICATE_QUERY_ID"), "a duplicate is refused once and never answered");
            assertTrue(mostWaitingInAShard <= CAP, "a shard held " + mostWaitingInAShard);
            assertEquals(0, bank.numEventTimeTimers(), "the shards hold nothing once the watermark moved on");
            assertEquals(0, merge.numKeyedStateEntries(), "the merge holds nothing once every query is answered");
            assertEquals(0, backlog.numKeyedStateEntries());
        } finally {
            backlog.close();
            guard.close();
            bank.close();
            merge.close();
        }
    }

    private static Ingested<Query> query(String id, long askedAt, long offset) {
        Query q = Query.newBuilder().setTenant("acme").setId(id).setQuestion("Why?")
                .setAskedAt(Instant.ofEpochMilli(askedAt)).setTopK(3).build();
        return Ingested.valid(q, askedAt).from("queries", 0, offset, null, new byte[0]);
    }

    /** Every harness sees the document watermark as it would in the job. */
    private void documentWatermark(long watermark) throws Exception {
        backlog.processWatermark1(new Watermark(FAR_FUTURE));
        backlog.processWatermark2(new Watermark(watermark));
        guard.processWatermark(new Watermark(watermark));
        bank.processWatermark1(new Watermark(watermark));
        bank.processWatermark2(new Watermark(FAR_FUTURE));
        MemoryShardFunctionTest.releaseReady(bank);
        drainBank();
        merge.processWatermark1(new Watermark(FAR_FUTURE));
        merge.processWatermark2(new Watermark(watermark));
        drainMerge();
    }

    /** Sends queries through admission, fan-out and the shards; returns those refused as OVERLOADED. */
    private List<Ingested<Query>> admitAll(List<Ingested<Query>> queries) throws Exception {
        List<Ingested<Query>> overloaded = new ArrayList<>();
        for (Ingested<Query> in : queries) {
            backlog.processElement1(new StreamRecord<>(in, in.eventTime));
            List<Ingested<Query>> afterBacklog = backlog.extractOutputValues();
            backlog.getOutput().clear();
            for (Ingested<Query> b : afterBacklog) {
                if (!b.isValid()) {
                    overloaded.add(in);
                    continue;
                }
                guard.processElement(new StreamRecord<>(b, b.eventTime));
            }
            List<Ingested<Query>> admitted = guard.extractOutputValues();
            guard.getOutput().clear();
            for (Ingested<Query> a : admitted) {
                if (!a.isValid()) {
                    String reason = a.deadLetter.getReason();
                    outcomes.computeIfAbsent(in.value.getId(), k -> new ArrayList<>())
                            .add(reason.substring(0, reason.indexOf(':')));
                    continue;
                }
                EncodedQuery encoded = MergeShardHitsTest.encoded("acme", a.value.getId(), a.eventTime);
                merge.processElement1(new StreamRecord<>(encoded, a.eventTime));
                List<ShardQuery> fanned = new ArrayList<>();
                new QueryFanOut(SHARDS).flatMap(encoded, new ListCollector<>(fanned));
                for (ShardQuery q : fanned) {
                    waitingInShard[q.shard]++;
                    bank.processElement2(new StreamRecord<>(q, q.askedAt));
                }
                drainBank();
            }
        }
        drainMerge();
        return overloaded;
    }

    private void drainBank() throws Exception {
        for (int s = 0; s < SHARDS; s++) {
            mostWaitingInAShard = Math.max(mostWaitingInAShard, waitingInShard[s]);
        }
        List<ShardHits> out = bank.extractOutputValues();
        bank.getOutput().clear();
        for (ShardHits h : out) {
            waitingInShard[h.shard]--;
            merge.processElement2(new StreamRecord<>(h, h.askedAt));
        }
    }

    private void drainMerge() {
        for (RetrievedContext c : merge.extractOutputValues()) {
            assertEquals(2, c.hits.length, "top-2 of both shards");
            outcomes.computeIfAbsent(c.query.queryId, k -> new ArrayList<>()).add("ANSWERED");
        }
        merge.getOutput().clear();
    }

    private long answers() {
        return outcomes.values().stream().flatMap(List::stream).filter("ANSWERED"::equals).count();
    }

    private long dead(String code) {
        return outcomes.values().stream().flatMap(List::stream).filter(code::equals).count();
    }
}
