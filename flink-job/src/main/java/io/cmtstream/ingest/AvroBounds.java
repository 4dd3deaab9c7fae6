package io.cmtstream.ingest;

import org.apache.avro.Schema;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Walks plain Avro binary against a schema before anything is decoded, and refuses bytes whose length prefixes,
 * collection counts, union or enum indexes or varints cannot be right for a record of this size.
 *
 * <p>Why: Avro allocates a string, bytes or array at the size its prefix announces before reading a byte of it,
 * so a 12-byte record can ask for 2 GiB (OutOfMemoryError), and a prefix above 2^31 throws
 * UnsupportedOperationException rather than an Avro exception. Here every length must fit in the bytes left and
 * every count must fit in them at the item's smallest encoded size, so what the decoder then allocates is bounded
 * by the record's own size. The walk itself allocates nothing per record and recurses at most {@link #MAX_DEPTH}
 * deep, so a recursive schema cannot be driven into a StackOverflowError.
 *
 * <p>It is stricter than Avro where Avro silently truncates: an int varint must fit 32 bits and a long varint 64,
 * a boolean must be 0 or 1, and a negative block's byte size must equal what its items take. Whatever passes is
 * read by Avro exactly as walked here. Stateless and thread-safe once built.
 */
public final class AvroBounds {
    /** Deepest nesting of records, arrays, maps and unions accepted; our schemas nest 3 deep. */
    static final int MAX_DEPTH = 64;
    /**
     * Most items of a collection whose items may encode in 0 bytes (null, empty records, fixed of size 0): for
     * them the record's size bounds nothing, yet the decoder allocates a slot per item.
     */
    static final long MAX_EMPTY_ITEMS = 1024;

    private final Schema schema;
    /** Smallest encoded size of each schema met, so counts can be checked against the bytes left. */
    private final Map<Schema, Integer> minBytes = new IdentityHashMap<>();

    public AvroBounds(Schema schema) {
        this.schema = schema;
        minBytes(schema);
    }

    /** Refuses {@code bytes} with {@link Rejection#MALFORMED_AVRO} unless every prefix in them is in bounds. */
    public void check(byte[] bytes) throws InvalidRecordException {
        check(bytes, 0);
    }

    /**
     * As {@link #check(byte[])} for the Avro binary that starts at {@code offset} and runs to the end of
     * {@code bytes} (after a registry frame's header).
     */
    public void check(byte[] bytes, int offset) throws InvalidRecordException {
        new Walk(bytes, offset).value(schema, 0);
    }

    private int minBytes(Schema s) {
        Integer known = minBytes.get(s);
        if (known != null) {
            return known;
        }
        int min = switch (s.getType()) {
            case NULL -> 0;
            case FIXED -> s.getFixedSize();
            case FLOAT -> 4;
            case DOUBLE -> 8;
            case RECORD -> {
                // A record met again while its fields are being sized is recursive: only reachable through a
                // union or collection, which take at least a byte themselves, so 1 is a safe lower bound here.
                minBytes.put(s, 1);
                int sum = 0;
                for (Schema.Field f : s.getFields()) {
                    sum = (int) Math.min(Integer.MAX_VALUE, (long) sum + minBytes(f.schema()));
                }
                yield sum;
            }
            default -> {
                // Unions, enums, varints, lengths and collections all start with at least one byte; still size
                // what they contain, so every schema reachable has an entry when a walk needs it.
                if (s.getType() == Schema.Type.UNION) {
                    s.getTypes().forEach(this::minBytes);
                } else if (s.getType() == Schema.Type.ARRAY) {
                    minBytes(s.getElementType());
                } else if (s.getType() == Schema.Type.MAP) {
                    minBytes(s.getValueType());
                }
                yield 1;
            }
        };
        minBytes.put(s, min);
        return min;
    }

    /** One pass over one record's bytes. */
    private final class Walk {
        private final byte[] bytes;
        private int pos;
        /** The innermost field being walked, named in the reason for people reading dead letters. */
        private String field = "";

        Walk(byte[] bytes, int offset) {
            this.bytes = bytes;
            this.pos = offset;
        }

        void value(Schema s, int depth) throws InvalidRecordException {
            if (depth > MAX_DEPTH) {
                throw refuse("values nested more than " + MAX_DEPTH + " deep");
            }
            switch (s.getType()) {
                case NULL -> { }
                case BOOLEAN -> {
                    need(1, "boolean");
                    if ((bytes[pos] & 0xff) > 1) {
                        throw refuse("boolean byte " + (bytes[pos] & 0xff) + " at byte " + pos + " is not 0 or 1");
                    }
                    pos++;
                }
                case INT -> varint(5, "int");
                case LONG -> varint(10, "long");
                case FLOAT -> skip(4, "float");
                case DOUBLE -> skip(8, "double");
                case FIXED -> skip(s.getFixedSize(), "fixed " + s.getName());
                case STRING, BYTES -> skip(length(s.getType().getName()), s.getType().getName());
                case ENUM -> index(s.getEnumSymbols().size(), "enum " + s.getName());
                case UNION -> value(s.getTypes().get(index(s.getTypes().size(), "union")), depth + 1);
                case RECORD -> {
                    for (Schema.Field f : s.getFields()) {
                        field = f.name();
                        value(f.schema(), depth + 1);
                    }
                }
                case ARRAY -> collection(s.getElementType(), false, depth + 1);
                case MAP -> collection(s.getValueType(), true, depth + 1);
            }
        }

        /** Blocks of items until a 0 count; a negative count is followed by the block's size in bytes. */
        private void collection(Schema item, boolean keyed, int depth) throws InvalidRecordException {
            int itemMin = minBytes.get(item) + (keyed ? 1 : 0);
            long total = 0;
            while (true) {
                int at = pos;
                long count = varint(10, "block count");
                if (count == 0) {
                    return;
                }
                int blockEnd = -1;
                if (count < 0) {
                    if (count == Long.MIN_VALUE) {
                        throw refuse("block count " + count + " at byte " + at + " has no positive");
                    }
                    count = -count;
                    long size = varint(10, "block size");
                    if (size < 0 || size > remaining()) {
                        throw refuse("block size " + size + " at byte " + at + ", with " + remaining() + " bytes left");
                    }
                    blockEnd = pos + (int) size;
                }
                total += count;
                if (itemMin > 0 ? count > remaining() / itemMin : total > MAX_EMPTY_ITEMS) {
                    throw refuse("collection of " + (itemMin > 0 ? count : total) + " items at byte " + at
                            + ", with " + remaining() + " bytes left");
                }
                for (long i = 0; i < count; i++) {
                    if (keyed) {
                        skip(length("map key"), "map key");
                    }
                    value(item, depth);
                }
                if (blockEnd >= 0 && pos != blockEnd) {
                    throw refuse("block at byte " + at + " announced its items ended at byte " + blockEnd
                            + " but they end at byte " + pos);
                }
            }
        }

        private int index(int size, String what) throws InvalidRecordException {
            int at = pos;
            long i = varint(5, what + " index");
            if (i < 0 || i >= size) {
                throw refuse(what + " index " + i + " at byte " + at + " is outside 0.." + (size - 1));
            }
            return (int) i;
        }

        private int length(String what) throws InvalidRecordException {
            int at = pos;
            long n = varint(10, what + " length");
            if (n < 0 || n > remaining()) {
                throw refuse(what + " length " + n + " at byte " + at + ", with " + remaining() + " bytes left");
            }
            return (int) n;
        }

        /**
         * A zig-zag varint of at most {@code maxBytes} bytes whose value fits the type: where Avro would drop the
         * high bits of an over-long int, the value walked here would differ from the one Avro reads.
         */
        private long varint(int maxBytes, String what) throws InvalidRecordException {
            int at = pos;
            long raw = 0;
            for (int i = 0; i < maxBytes; i++) {
                if (pos >= bytes.length) {
                    throw refuse(what + " at byte " + at + " runs past the end of the record");
                }
                int b = bytes[pos++] & 0xff;
                raw |= (long) (b & 0x7f) << (7 * i);
                if ((b & 0x80) == 0) {
                    int usedBits = 7 * i + (32 - Integer.numberOfLeadingZeros(b));
                    if (usedBits > maxBytes * 7 - (maxBytes == 5 ? 3 : 6)) {
                        throw refuse(what + " at byte " + at + " does not fit " + (maxBytes == 5 ? 32 : 64) + " bits");
                    }
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            throw refuse(what + " at byte " + at + " is longer than " + maxBytes + " bytes");
        }

        private void skip(int n, String what) throws InvalidRecordException {
            need(n, what);
            pos += n;
        }

        private void need(int n, String what) throws InvalidRecordException {
            if (n > remaining()) {
                throw refuse(what + " at byte " + pos + " needs " + n + " bytes, " + remaining() + " left");
            }
        }

        private int remaining() {
            return bytes.length - pos;
        }

        private InvalidRecordException refuse(String detail) {
            return new InvalidRecordException(Rejection.MALFORMED_AVRO,
                    field.isEmpty() ? detail : detail + " (field " + field + ")");
        }
    }
}
