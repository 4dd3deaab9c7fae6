package io.cmtstream.ingest;

import io.cmtstream.avro.Query;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.cmtstream.ingest.TenantBacklogTest.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Duplicate query ids, decided once before fan-out, on Flink's operator test harness. */
class QueryIdGuardTest {
    private static final long RETENTION = 60_000;

    static KeyedOneInputStreamOperatorTestHarness<String, Ingested<Query>, Ingested<Query>> harness() throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new QueryIdGuard(RETENTION)),
                QueryAdmission::queryKey, Types.STRING);
    }

    private static List<String> outcomes(List<Ingested<Query>> out) {
        return out.stream().map(in -> in.isValid() ? "admitted " + in.value.getId()
                : in.deadLetter.getReason().substring(0, in.deadLetter.getReason().indexOf(':'))).toList();
    }

    @Test
    void aSecondQueryWithAPendingIdIsADeadLetterAndTheFirstIsUntouched() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processWatermark(new Watermark(0));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 0), 1_000L));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_500, 1), 1_500L));
            h.processElement(new StreamRecord<>(query("globex", "q1", 1_000, 2), 1_000L));
            List<Ingested<Query>> out = h.extractOutputValues();
            assertEquals(List.of("admitted q1", "DUPLICATE_QUERY_ID", "admitted q1"), outcomes(out));
            assertEquals(1_000, out.get(0).value.getAskedAt().toEpochMilli());
            assertEquals(1, out.get(1).deadLetter.getOffset());
            assertTrue(out.get(1).deadLetter.getReason().contains("acme"), out.get(1).deadLetter.getReason());
        }
    }

    @Test
    void anIdIsRememberedForTheRetentionAfterItsAskedAtAndThenForgotten() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processWatermark(new Watermark(0));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 0), 1_000L));
            // Answered once the watermark passed 1,000; within the retention a replay of it is still refused.
            h.processWatermark(new Watermark(1_000 + RETENTION - 1));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 1), 1_000L));
            h.processWatermark(new Watermark(1_000 + RETENTION));
            assertEquals(0, h.numKeyedStateEntries(), "forgotten: no state left behind");
            assertEquals(0, h.numEventTimeTimers());
            h.processElement(new StreamRecord<>(query("acme", "q1", 70_000, 2), 70_000L));
            assertEquals(List.of("admitted q1", "DUPLICATE_QUERY_ID", "admitted q1"), outcomes(h.extractOutputValues()));
        }
    }

    @Test
    void aQueryAskedLongAgoIsRememberedFromWhenItIsAnsweredNotFromItsAskedAt() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processWatermark(new Watermark(1_000_000));
            h.processElement(new StreamRecord<>(query("acme", "late", 5, 0), 5L));
            h.processWatermark(new Watermark(1_000_000 + RETENTION - 1));
            h.processElement(new StreamRecord<>(query("acme", "late", 5, 1), 5L));
            assertEquals(List.of("admitted late", "DUPLICATE_QUERY_ID"), outcomes(h.extractOutputValues()));
        }
    }

    @Test
    void hostileAskedAtTimesNeitherThrowNorForgetTooEarly() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(new StreamRecord<>(query("acme", "min", Long.MIN_VALUE, 0), Long.MIN_VALUE));
            h.processElement(new StreamRecord<>(query("acme", "max", Long.MAX_VALUE - 1, 1), Long.MAX_VALUE - 1));
            h.processElement(new StreamRecord<>(query("acme", "max", Long.MAX_VALUE - 1, 2), Long.MAX_VALUE - 1));
            assertEquals(List.of("admitted min", "admitted max", "DUPLICATE_QUERY_ID"), outcomes(h.extractOutputValues()));
        }
    }

    @Test
    void rememberedIdsSurviveASnapshotAndRestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            h.processWatermark(new Watermark(0));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 0), 1_000L));
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 1), 1_000L));
            h.processWatermark(new Watermark(1_000 + RETENTION));
            h.processElement(new StreamRecord<>(query("acme", "q1", 1_000, 2), 1_000L));
            assertEquals(List.of("DUPLICATE_QUERY_ID", "admitted q1"), outcomes(h.extractOutputValues()));
        }
    }
}
