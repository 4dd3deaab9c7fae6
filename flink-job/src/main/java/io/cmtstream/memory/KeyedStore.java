package io.cmtstream.memory;

import java.util.Map;

/**
 * Where a shard keeps one kind of value by document id (its memories, its version windows): Flink MapState in the
 * job (RocksDB), a map in unit tests. All calls refer to the shard currently being processed.
 */
public interface KeyedStore<V> {
    V get(String docId) throws Exception;

    void put(String docId, V value) throws Exception;

    void remove(String docId) throws Exception;

    Iterable<Map.Entry<String, V>> entries() throws Exception;
}
