package io.cmtstream.memory;

import java.util.Map;

/**
 * Where a shard's memories live: Flink MapState in the job (RocksDB), a map in unit tests. All calls refer to the
 * shard currently being processed.
 */
public interface MemoryStore {
    Memory get(String docId) throws Exception;

    void put(String docId, Memory memory) throws Exception;

    void remove(String docId) throws Exception;

    Iterable<Map.Entry<String, Memory>> entries() throws Exception;
}
