package io.cmtstream.memory;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;

/**
 * Places documents on shards and names the keyed-state key of a (tenant, shard). The shard count is fixed for the
 * life of a job's state (like max parallelism); Flink moves shards between subtasks when rescaling.
 */
public final class ShardAssigner implements Serializable {
    /** Separates tenant and shard in a key; tenants cannot contain it (see IngestLimits.TENANT). */
    private static final char SEPARATOR = '/';

    private final int shards;

    public ShardAssigner(int shards) {
        if (shards < 1) {
            throw new IllegalArgumentException("shard count must be >= 1, was " + shards);
        }
        this.shards = shards;
    }

    public int shards() {
        return shards;
    }

    /** Stable across JVMs and releases (String.hashCode is specified; mixed so similar ids spread). */
    public int shardOf(String docId) {
        int h = 0;
        for (byte b : docId.getBytes(StandardCharsets.UTF_8)) {
            h = 31 * h + (b & 0xff);
        }
        h ^= (h >>> 16);
        h *= 0x85ebca6b;
        h ^= (h >>> 13);
        return Math.floorMod(h, shards);
    }

    public String key(String tenant, int shard) {
        return tenant + SEPARATOR + shard;
    }

    public String keyOfDocument(String tenant, String docId) {
        return key(tenant, shardOf(docId));
    }
}
