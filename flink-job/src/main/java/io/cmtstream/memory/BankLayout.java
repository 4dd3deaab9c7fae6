package io.cmtstream.memory;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;

/**
 * What a memory bank's state means besides its own bytes: the shard count that spread documents over keys, the
 * max parallelism that spread keys over key groups, and the model's memory space that made the keys. The bank
 * records it in every checkpoint and refuses to restore under another one, which would otherwise go unnoticed: with
 * another shard count a document's new versions land in another shard than its old memory (two versions answer,
 * a delete misses), and with another model the questions' keys are compared with keys of another space.
 *
 * @param shards {@code cmt.memory.shards}
 * @param maxParallelism Flink's max parallelism of the bank operator; 0 when not known yet (before the operator runs)
 * @param memorySpace the model's memory space ({@code model/MemorySpace}), null when it could not be read
 */
public record BankLayout(int shards, int maxParallelism, String memorySpace) implements Serializable {
    public static final String SHARDS_OPTION = "cmt.memory.shards";
    public static final String MAX_PARALLELISM_OPTION = "pipeline.max-parallelism";
    public static final String MODEL_OPTION = "cmt.model.dir";
    /** Nothing known: a bank written so is restored under any layout (and records its own from then on). */
    public static final BankLayout UNKNOWN = new BankLayout(0, 0, null);

    /** This layout with the operator's max parallelism, known once it runs. */
    public BankLayout withMaxParallelism(int value) {
        return new BankLayout(shards, value, memorySpace);
    }

    /** The form kept in state: {@code key=value} pairs, so a later layout can add keys and still read this one. */
    String encode() {
        return "shards=" + shards + ";maxParallelism=" + maxParallelism + ";memorySpace="
                + (memorySpace == null ? "" : memorySpace);
    }

    static BankLayout decode(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String pair : text.split(";")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                fields.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        }
        String space = fields.getOrDefault("memorySpace", "");
        return new BankLayout(Integer.parseInt(fields.getOrDefault("shards", "0")),
                Integer.parseInt(fields.getOrDefault("maxParallelism", "0")), space.isEmpty() ? null : space);
    }

    /**
     * Why a bank recorded under {@code recorded} cannot be restored under this layout, naming the option to set
     * back; null when it can. An unknown value (0 or null) on either side is not compared.
     */
    String refusal(BankLayout recorded) {
        String fix = " Restore with the recorded value, or rebuild the bank under the new one in a fresh job that "
                + "reads the documents topic from its earliest offset (docs/UPGRADING.md).";
        if (recorded.shards > 0 && shards > 0 && recorded.shards != shards) {
            return "the memory bank was written with " + SHARDS_OPTION + "=" + recorded.shards + " and is restored with "
                    + shards + ": documents would no longer meet their memories' shard." + fix;
        }
        if (recorded.maxParallelism > 0 && maxParallelism > 0 && recorded.maxParallelism != maxParallelism) {
            return "the memory bank was written with " + MAX_PARALLELISM_OPTION + "=" + recorded.maxParallelism
                    + " and is restored with " + maxParallelism + "." + fix;
        }
        if (recorded.memorySpace != null && memorySpace != null && !recorded.memorySpace.equals(memorySpace)) {
            return "the memory bank was written by a model of memory space " + recorded.memorySpace + " and "
                    + MODEL_OPTION + " now holds one of memory space " + memorySpace
                    + ": its keys would be compared with keys of another space." + fix;
        }
        return null;
    }
}
