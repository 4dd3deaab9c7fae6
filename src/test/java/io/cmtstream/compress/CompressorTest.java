package io.cmtstream.compress;

import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.memory.ShardQuery;
import io.cmtstream.model.Encoding;
import io.cmtstream.model.MemoryStates;
import org.apache.flink.api.common.functions.util.ListCollector;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompressorTest {
    private final Compressor compressor = new Compressor(text -> unused(), text -> CompletableFuture.completedFuture(
            new Encoding(new float[] {1, 0}, new float[] {0.5f}, MemoryStates.NONE, 3, false)), 4);

    private static CompletableFuture<Encoding> unused() {
        throw new AssertionError("no document is compressed here");
    }

    private static Query.Builder query(List<String> restrictTo, ReadOrder readOrder) {
        return Query.newBuilder().setTenant("acme").setId("q").setQuestion("Who?").setAskedAt(Instant.ofEpochMilli(9))
                .setRestrictTo(restrictTo).setReadOrder(readOrder);
    }

    @Test
    void aListedReadOrderReachesEveryShardOnlyWithRestrictTo() {
        EncodedQuery listed = compressor.encode(query(List.of("b", "a"), ReadOrder.LISTED).build()).join();
        assertTrue(listed.readInListedOrder);
        assertArrayEquals(new String[] {"b", "a"}, listed.restrictTo);
        assertEquals(4, listed.topK, "the job's default k");
        List<ShardQuery> shards = new ArrayList<>();
        new QueryFanOut(2).flatMap(listed, new ListCollector<>(shards));
        assertEquals(List.of(true, true), shards.stream().map(s -> s.readInListedOrder).toList());

        assertFalse(compressor.encode(query(null, ReadOrder.LISTED).build()).join().readInListedOrder,
                "ignored without restrictTo");
        assertFalse(compressor.encode(query(List.of("a"), ReadOrder.MATCH_SCORE).build()).join().readInListedOrder);
        assertFalse(compressor.encode(query(List.of("a"), null).build()).join().readInListedOrder);
    }
}
