package io.cmtstream.memory;

import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.compress.QueryFanOut;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardingTest {
    @Test
    void documentsSpreadOverAllShardsStably() {
        ShardAssigner shards = new ShardAssigner(4);
        int[] counts = new int[4];
        for (int i = 0; i < 4000; i++) {
            counts[shards.shardOf("Article#" + i)]++;
        }
        for (int c : counts) {
            assertTrue(c > 800 && c < 1200, "uneven shards: " + java.util.Arrays.toString(counts));
        }
        assertEquals(shards.shardOf("Nikola_Tesla#3"), new ShardAssigner(4).shardOf("Nikola_Tesla#3"));
    }

    @Test
    void queryFansOutToEveryShardOfItsOwnTenantOnly() {
        EncodedQuery q = new EncodedQuery();
        q.tenant = "acme";
        q.queryId = "q";
        q.topK = 3;
        q.key = new float[] {1};
        List<ShardQuery> out = new ArrayList<>();
        new QueryFanOut(3).flatMap(q, new org.apache.flink.api.common.functions.util.ListCollector<>(out));
        ShardAssigner shards = new ShardAssigner(3);
        assertEquals(List.of("acme/0", "acme/1", "acme/2"),
                out.stream().map(s -> shards.key(s.tenant, s.shard)).toList());
    }

    @Test
    void mergeKeepsTheGlobalBestOfTheShardsLocalBest() {
        MemoryHit[] s0 = {new MemoryHit("a", 0.9f), new MemoryHit("b", 0.5f)};
        MemoryHit[] s1 = {new MemoryHit("c", 0.7f), new MemoryHit("d", 0.6f)};
        assertEquals(List.of("a", "c", "d"),
                TopKMerger.merge(List.of(s0, s1), 3).stream().map(h -> h.docId).toList());
        assertEquals(4, TopKMerger.merge(List.of(s0, s1), 10).size());
    }
}
