package io.cmtstream.ingest;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DocumentWatermarksTest {
    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final List<Long> emitted = new ArrayList<>();
    private final WatermarkOutput output = new WatermarkOutput() {
        @Override
        public void emitWatermark(Watermark watermark) {
            emitted.add(watermark.getTimestamp());
        }

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}
    };
    private final DocumentWatermarks<Object> watermarks = new DocumentWatermarks<>(200, 1000, clock::get);

    @Test
    void activePartitionTrailsItsNewestDocumentByTheOutOfOrderness() {
        watermarks.onEvent("d", 5_000, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(4_799L), emitted);
    }

    @Test
    void quietPartitionAdvancesWithTheWallClockSoQueriesAreNotHeldForever() {
        watermarks.onEvent("d", 5_000, output);
        clock.addAndGet(1_500);
        watermarks.onPeriodicEmit(output);
        assertEquals(List.of(1_000_500L), emitted);
    }

    @Test
    void neverGoesBackAndIgnoresDeadLetters() {
        clock.addAndGet(2_000);
        watermarks.onPeriodicEmit(output);
        watermarks.onEvent("late", 10, output);
        watermarks.onEvent("dead letter", Long.MIN_VALUE, output);
        watermarks.onPeriodicEmit(output);
        assertEquals(1, emitted.size());
        assertTrue(emitted.get(0) > 10);
    }
}
