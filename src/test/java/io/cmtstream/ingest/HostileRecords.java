package io.cmtstream.ingest;

import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Seeded generator of record values for the documents and queries topics: valid records and the hostile kinds
 * that once stopped the job (length and count prefixes just under and over Avro's limits, negative blocks, bad
 * union indexes, long runs of union bytes, truncated and bit-flipped records, random bytes, other schemas).
 * The same seed gives the same records: event times come from a fixed clock, not the wall clock.
 */
public final class HostileRecords {
    /** Event time of the first valid record (2023-11-14); record n is stamped n ms later. */
    public static final long BASE_MILLIS = 1_700_000_000_000L;
    /** Avro's largest array (Integer.MAX_VALUE - 8, its SystemLimitException default). */
    static final long AVRO_LIMIT = Integer.MAX_VALUE - 8;
    /** Length and count prefixes around Avro's limits and the int/long boundaries. */
    static final long[] HUGE = {AVRO_LIMIT - 1, AVRO_LIMIT, AVRO_LIMIT + 1, Integer.MAX_VALUE, 1L << 31, 1L << 32,
            1L << 40, Long.MAX_VALUE, Long.MIN_VALUE, -1, Integer.MIN_VALUE};

    /** What a generated record is; {@link #codes} is the regex of reasons it may get, null when it may be valid. */
    public enum Kind {
        VALID(null), RANDOM(null), TRUNCATED("MALFORMED_AVRO"), BIT_FLIPPED(null),
        HUGE_LENGTH("MALFORMED_AVRO"), HUGE_COUNT("MALFORMED_AVRO"), NEGATIVE_BLOCK("MALFORMED_AVRO"),
        BAD_UNION("MALFORMED_AVRO"), UNION_RUN("MALFORMED_AVRO|WRONG_SCHEMA"),
        OTHER_SCHEMA(null);

        public final String codes;

        Kind(String codes) {
            this.codes = codes;
        }
    }

    /** One generated value, for {@code topic} ("documents" or "queries"). */
    public record Hostile(Kind kind, String topic, byte[] value) {
        public boolean forDocuments() {
            return topic.equals("documents");
        }
    }

    private static final String[] WORDS = {"lighthouse", "tide", "harbour", "storm", "keeper", "lamp", "rock",
            "wave", "ship", "coast", "night", "fog"};
    private static final Kind[] WEIGHTED = {Kind.VALID, Kind.VALID, Kind.VALID, Kind.VALID, Kind.VALID,
            Kind.BIT_FLIPPED, Kind.BIT_FLIPPED, Kind.BIT_FLIPPED, Kind.BIT_FLIPPED, Kind.TRUNCATED, Kind.TRUNCATED,
            Kind.RANDOM, Kind.RANDOM, Kind.HUGE_LENGTH, Kind.HUGE_LENGTH, Kind.HUGE_COUNT, Kind.NEGATIVE_BLOCK,
            Kind.BAD_UNION, Kind.UNION_RUN, Kind.OTHER_SCHEMA};

    private final Random random;
    private final int tenants;
    private int next;

    /** Records over {@code tenants} tenants named t0, t1, ...; ids are unique per generator. */
    public HostileRecords(long seed, int tenants) {
        this.random = new Random(seed);
        this.tenants = tenants;
    }

    /** The next record, of a kind drawn with fixed weights, for either topic. */
    public Hostile next() {
        return next(WEIGHTED[random.nextInt(WEIGHTED.length)], random.nextBoolean());
    }

    public Hostile next(Kind kind, boolean documents) {
        String topic = documents ? "documents" : "queries";
        byte[] value = switch (kind) {
            case VALID -> valid(documents);
            case RANDOM -> randomBytes();
            case TRUNCATED -> {
                byte[] whole = valid(documents);
                yield Arrays.copyOf(whole, random.nextInt(whole.length));
            }
            case BIT_FLIPPED -> {
                byte[] v = valid(documents);
                for (int i = 1 + random.nextInt(3); i > 0; i--) {
                    v[random.nextInt(v.length)] ^= (byte) (1 << random.nextInt(8));
                }
                yield v;
            }
            case HUGE_LENGTH -> hugeLength(documents);
            case HUGE_COUNT -> restrictToBlocks(huge(), null);
            case NEGATIVE_BLOCK -> negativeBlock();
            case BAD_UNION -> badUnion(documents);
            case UNION_RUN -> unionRun(documents);
            case OTHER_SCHEMA -> otherSchema(documents);
        };
        return new Hostile(kind, topic, value);
    }

    public Document document() {
        int n = next++;
        return Document.newBuilder().setTenant(tenant()).setId("d" + n).setText(words(3 + random.nextInt(12)))
                .setPublishedAt(Instant.ofEpochMilli(BASE_MILLIS + n))
                .setTitle(random.nextInt(4) == 0 ? words(2) : null)
                .setOp(DocumentOp.UPSERT).build();
    }

    public Query query() {
        int n = next++;
        int restrict = random.nextInt(6);
        return Query.newBuilder().setTenant(tenant()).setId("q" + n).setQuestion(words(2 + random.nextInt(6)) + "?")
                .setAskedAt(Instant.ofEpochMilli(BASE_MILLIS + n))
                .setTopK(random.nextBoolean() ? null : 1 + random.nextInt(5))
                .setRestrictTo(restrict > 2 ? null : random.ints(restrict, 0, Math.max(1, n)).mapToObj(i -> "d" + i).toList())
                .build();
    }

    private byte[] valid(boolean documents) {
        return documents ? AvroBytes.encode(document()) : AvroBytes.encode(query());
    }

    private String tenant() {
        return "t" + random.nextInt(tenants);
    }

    private String words(int count) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < count; i++) {
            b.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        }
        return b.toString();
    }

    /** A prefix around Avro's limits, or one just over what any of these records holds. */
    private long huge() {
        return random.nextInt(4) == 0 ? 200 + random.nextInt(1000) : HUGE[random.nextInt(HUGE.length)];
    }

    private byte[] randomBytes() {
        byte[] b = new byte[random.nextInt(80)];
        random.nextBytes(b);
        if (random.nextBoolean() && b.length > 0) {
            // Runs of continuation bits: the longest varints.
            Arrays.fill(b, 0, random.nextInt(b.length), (byte) 0xff);
        }
        return b;
    }

    /**
     * A string field's length prefix replaced by a huge one: the Document's or Query's tenant, id or text, followed
     * by what the valid record had after it (always fewer bytes than announced).
     */
    private byte[] hugeLength(boolean documents) {
        Out out = new Out();
        String[] strings = documents ? new String[]{"t0", "d" + next++, words(4)} : new String[]{"t0", "q" + next++, words(3)};
        int field = random.nextInt(strings.length);
        for (int i = 0; i < field; i++) {
            out.string(strings[i]);
        }
        out.varint(huge());
        out.raw(strings[field].getBytes(StandardCharsets.UTF_8));
        for (int i = field + 1; i < strings.length; i++) {
            out.string(strings[i]);
        }
        if (!documents) {
            out.varint(0); // readOrder: null
        }
        out.varint(BASE_MILLIS);
        return out.bytes();
    }

    /** A Query whose restrictTo is present and holds {@code count} items in one block (a few real ones follow). */
    private byte[] restrictToBlocks(long count, Long blockSize) {
        Out out = queryHead();
        out.varint(0); // topK: null
        out.varint(1); // restrictTo: the array branch
        out.varint(count);
        if (blockSize != null) {
            out.varint(blockSize);
        }
        for (int i = random.nextInt(4); i > 0; i--) {
            out.string("d" + i);
        }
        out.varint(0);
        return out.bytes();
    }

    /** Negative block counts (Avro's "count, then byte size" form) with sizes that are huge, negative or wrong. */
    private byte[] negativeBlock() {
        long count = random.nextBoolean() ? -(1 + random.nextInt(3)) : -Math.abs(huge());
        // Never a size the items could match: the few items written take at most 9 bytes.
        long size = random.nextBoolean() ? huge() : 50 + random.nextInt(50);
        return restrictToBlocks(count, size);
    }

    /** A union branch index outside the union (topK or restrictTo of a Query, title or source of a Document). */
    private byte[] badUnion(boolean documents) {
        long[] bad = {2, 3, -1, -2, 127, Integer.MAX_VALUE, Integer.MIN_VALUE, 1L << 32};
        long index = bad[random.nextInt(bad.length)];
        if (documents) {
            Out out = new Out();
            out.string("t0").string("d" + next++).string(words(3)).varint(BASE_MILLIS);
            if (random.nextBoolean()) {
                out.varint(0);
            }
            out.varint(index).string("t").varint(0);
            return out.bytes();
        }
        Out out = queryHead();
        if (random.nextBoolean()) {
            out.varint(0);
        }
        out.varint(index).varint(3).varint(0);
        return out.bytes();
    }

    /** A long run of one union-index byte after a valid head: what a deeply nested union would look like. */
    private byte[] unionRun(boolean documents) {
        Out out = documents ? new Out().string("t0").string("d" + next++).string(words(2)).varint(BASE_MILLIS)
                : queryHead();
        byte[] run = new byte[100 + random.nextInt(4000)];
        Arrays.fill(run, (byte) (random.nextBoolean() ? 0x02 : 0x04));
        out.raw(run);
        return out.bytes();
    }

    private byte[] otherSchema(boolean documents) {
        return switch (random.nextInt(3)) {
            case 0 -> documents ? AvroBytes.encode(query()) : AvroBytes.encode(document());
            case 1 -> AvroBytes.encode(DeadLetter.newBuilder().setTopic("documents").setPartition(0)
                    .setOffset(random.nextInt(1000)).setReason("MALFORMED_AVRO: x")
                    .setPayload(ByteBuffer.wrap(valid(documents))).setFailedAt(Instant.ofEpochMilli(BASE_MILLIS))
                    .build());
            default -> {
                // A record of a newer schema: the valid record with a field appended.
                Out out = new Out();
                out.raw(valid(documents));
                out.string(words(2));
                yield out.bytes();
            }
        };
    }

    private Out queryHead() {
        // readOrder (null) sits between question and askedAt.
        return new Out().string("t0").string("q" + next++).string(words(3) + "?").varint(0).varint(BASE_MILLIS);
    }

    /** Avro binary written by hand, to put any prefix anywhere. */
    static final class Out {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        /** A zig-zag varint, as Avro writes ints and longs. */
        Out varint(long value) {
            long n = (value << 1) ^ (value >> 63);
            while ((n & ~0x7fL) != 0) {
                bytes.write((int) ((n & 0x7f) | 0x80));
                n >>>= 7;
            }
            bytes.write((int) n);
            return this;
        }

        Out string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            varint(utf8.length);
            return raw(utf8);
        }

        Out raw(byte[] b) {
            bytes.write(b, 0, b.length);
            return this;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }

    /** Every stable code a dead letter may start with. */
    public static List<String> codes() {
        return Arrays.stream(Rejection.values()).map(Enum::name).toList();
    }
}
