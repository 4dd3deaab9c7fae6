package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.ingest.HostileRecords.Out;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AvroBoundsTest {
    private final AvroDecoder<Query> queries = new AvroDecoder<>(Query.class);
    private final AvroDecoder<Document> documents = new AvroDecoder<>(Document.class);
    private final AvroBounds queryBounds = new AvroBounds(Query.getClassSchema());

    /** Tenant "a", id "q", then a question whose length prefix is {@code length}, then two bytes of it. */
    private static byte[] queryWithQuestionLength(long length) {
        return new Out().string("a").string("q").varint(length).raw(new byte[]{'w', 'h'}).bytes();
    }

    private static String refusal(ThrowingDecode decode) {
        InvalidRecordException e = assertThrows(InvalidRecordException.class, decode::run);
        assertEquals(Rejection.MALFORMED_AVRO, e.rejection(), e.getMessage());
        return e.getMessage();
    }

    private interface ThrowingDecode {
        void run() throws Exception;
    }

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void twelveByteQueryAskingForTwoToTheFortyBytesIsMalformed() {
        byte[] bytes = queryWithQuestionLength(1L << 40);
        assertEquals(12, bytes.length);
        // Before the precheck Avro threw UnsupportedOperationException here, which nothing caught.
        String reason = refusal(() -> queries.decode(bytes));
        assertTrue(reason.contains("length 1099511627776") && reason.contains("question"), reason);
    }

    @Test
    void lengthAtAvrosLimitIsRefusedWithoutAllocatingIt() {
        for (long length : new long[]{HostileRecords.AVRO_LIMIT - 1, HostileRecords.AVRO_LIMIT,
                HostileRecords.AVRO_LIMIT + 1, Integer.MAX_VALUE}) {
            byte[] bytes = queryWithQuestionLength(length);
            long before = allocatedByThisThread();
            String reason = refusal(() -> queries.decode(bytes));
            long allocated = allocatedByThisThread() - before;
            // Avro alone allocates the 2 GiB string before reading a byte of it.
            assertTrue(allocated < 1 << 20, length + ": allocated " + allocated + " bytes");
            assertTrue(reason.contains("length " + length), reason);
        }
    }

    @Test
    void negativeLengthIsMalformed() {
        refusal(() -> queries.decode(queryWithQuestionLength(-1)));
        refusal(() -> queries.decode(queryWithQuestionLength(Long.MIN_VALUE)));
    }

    /** A Query (tenant "a", id "q", question "why", readOrder null) up to its restrictTo array, whose blocks follow. */
    private static Out queryBeforeRestrictTo() {
        return new Out().string("a").string("q").string("why").varint(0).varint(5).varint(0).varint(1);
    }

    @Test
    void arrayCountsLargerThanTheBytesLeftAreRefused() {
        for (long count : new long[]{4, 1000, HostileRecords.AVRO_LIMIT, 1L << 31, 1L << 40, Long.MAX_VALUE}) {
            byte[] bytes = queryBeforeRestrictTo().varint(count).string("d").varint(0).bytes();
            long before = allocatedByThisThread();
            String reason = refusal(() -> queries.decode(bytes));
            assertTrue(allocatedByThisThread() - before < 1 << 20, "count " + count);
            assertTrue(reason.contains("collection of " + count + " items") && reason.contains("restrictTo"), reason);
        }
    }

    @Test
    void negativeBlockCountsNeedTheirExactByteSize() throws Exception {
        byte[] positive = queryBeforeRestrictTo().varint(2).string("d1").string("d2").varint(0).bytes();
        byte[] negative = queryBeforeRestrictTo().varint(-2).varint(6).string("d1").string("d2").varint(0).bytes();
        assertEquals(List.of("d1", "d2"), queries.decode(positive).getRestrictTo());
        assertEquals(List.of("d1", "d2"), queries.decode(negative).getRestrictTo(), "Avro's block-size form is read");

        for (long size : new long[]{5, 7, -1, 1L << 40, Long.MAX_VALUE}) {
            byte[] bytes = queryBeforeRestrictTo().varint(-2).varint(size).string("d1").string("d2").varint(0).bytes();
            refusal(() -> queries.decode(bytes));
        }
        for (long count : new long[]{Long.MIN_VALUE, -HostileRecords.AVRO_LIMIT, Integer.MIN_VALUE}) {
            byte[] bytes = queryBeforeRestrictTo().varint(count).varint(6).string("d1").string("d2").varint(0).bytes();
            refusal(() -> queries.decode(bytes));
        }
    }

    @Test
    void unionAndEnumIndexesOutsideTheirTypesAreRefused() {
        for (long index : new long[]{2, -1, 127, Integer.MAX_VALUE, 1L << 32}) {
            byte[] topK = new Out().string("a").string("q").string("why").varint(0).varint(5).varint(index).varint(3)
                    .varint(0).bytes();
            String reason = refusal(() -> queries.decode(topK));
            assertTrue(reason.contains("topK"), reason);
        }
        byte[] op = new Out().string("a").string("d").string("text").varint(5).varint(0).varint(0).varint(2).bytes();
        assertTrue(refusal(() -> documents.decode(op)).contains("enum DocumentOp index 2"));
    }

    @Test
    void varintsLongerThanTheirTypeAreRefused() {
        byte[] longTooLong = new Out().string("a").string("q").string("why").varint(0)
                .raw(new byte[]{(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
                        (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01}).varint(0).varint(0).bytes();
        assertTrue(refusal(() -> queries.decode(longTooLong)).contains("longer than 10 bytes"));
        // Five bytes, but more than 32 bits: Avro would drop the high bits and read another union branch.
        byte[] intTooWide = new Out().string("a").string("q").string("why").varint(0).varint(5)
                .raw(new byte[]{(byte) 0x82, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x10}).varint(0).bytes();
        assertTrue(refusal(() -> queries.decode(intTooWide)).contains("does not fit 32 bits"));
        byte[] runsOff = new Out().string("a").string("q").string("why").varint(0)
                .raw(new byte[]{(byte) 0x80, (byte) 0x80}).bytes();
        assertTrue(refusal(() -> queries.decode(runsOff)).contains("runs past the end"));
    }

    @Test
    void everyTruncationOfAValidRecordIsMalformed() {
        HostileRecords gen = new HostileRecords(1, 3);
        for (int r = 0; r < 20; r++) {
            byte[] doc = AvroBytes.encode(gen.document());
            byte[] query = AvroBytes.encode(gen.query());
            for (int cut = 1; cut < doc.length; cut++) {
                byte[] part = Arrays.copyOf(doc, cut);
                refusal(() -> documents.decode(part));
            }
            for (int cut = 1; cut < query.length; cut++) {
                byte[] part = Arrays.copyOf(query, cut);
                refusal(() -> queries.decode(part));
            }
        }
    }

    @Test
    void everySingleBitFlipOfAValidRecordDecodesOrIsRefusedWithACode() {
        HostileRecords gen = new HostileRecords(2, 3);
        int refused = 0;
        int decoded = 0;
        for (int r = 0; r < 10; r++) {
            for (boolean isDocument : new boolean[]{true, false}) {
                byte[] valid = isDocument ? AvroBytes.encode(gen.document()) : AvroBytes.encode(gen.query());
                for (int bit = 0; bit < valid.length * 8; bit++) {
                    byte[] flipped = valid.clone();
                    flipped[bit / 8] ^= (byte) (1 << (bit % 8));
                    try {
                        assertTrue((isDocument ? documents.decode(flipped) : queries.decode(flipped)) != null);
                        decoded++;
                    } catch (InvalidRecordException e) {
                        assertTrue(e.getMessage().startsWith(e.rejection().name() + ": "), e.getMessage());
                        assertTrue(e.rejection() == Rejection.MALFORMED_AVRO || e.rejection() == Rejection.WRONG_SCHEMA,
                                e.getMessage());
                        refused++;
                    }
                }
            }
        }
        // Both outcomes occur: flips in text bytes still decode, flips in prefixes do not.
        assertTrue(refused > 0 && decoded > 0, "refused " + refused + ", decoded " + decoded);
    }

    @Test
    void validRecordsAlwaysPassTheWalk() {
        HostileRecords gen = new HostileRecords(3, 3);
        for (int i = 0; i < 500; i++) {
            byte[] q = AvroBytes.encode(gen.query());
            assertDoesNotThrow(() -> queryBounds.check(q));
            byte[] d = AvroBytes.encode(gen.document());
            assertDoesNotThrow(() -> new AvroBounds(Document.getClassSchema()).check(d));
        }
    }

    @Test
    void nestingDeeperThanTheBoundIsRefused() {
        Schema list = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Node\",\"fields\":"
                + "[{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}");
        AvroBounds bounds = new AvroBounds(list);
        byte[] shallow = new byte[11];
        Arrays.fill(shallow, 0, 10, (byte) 0x02);
        assertDoesNotThrow(() -> bounds.check(shallow));
        byte[] deep = new byte[100_001];
        Arrays.fill(deep, 0, 100_000, (byte) 0x02);
        String reason = refusal(() -> bounds.check(deep));
        assertTrue(reason.contains("nested more than " + AvroBounds.MAX_DEPTH), reason);
    }

    @Test
    void itemsThatTakeNoBytesAreCapped() {
        AvroBounds nulls = new AvroBounds(Schema.createArray(Schema.create(Schema.Type.NULL)));
        assertDoesNotThrow(() -> nulls.check(new Out().varint(AvroBounds.MAX_EMPTY_ITEMS).varint(0).bytes()));
        refusal(() -> nulls.check(new Out().varint(AvroBounds.MAX_EMPTY_ITEMS + 1).varint(0).bytes()));
        // The cap holds across blocks too.
        refusal(() -> nulls.check(new Out().varint(AvroBounds.MAX_EMPTY_ITEMS).varint(1).varint(0).bytes()));
        refusal(() -> nulls.check(new Out().varint(1L << 40).varint(0).bytes()));
    }

    @Test
    void mapCountsAreCheckedLikeArrays() {
        AvroBounds longs = new AvroBounds(Schema.createMap(Schema.create(Schema.Type.LONG)));
        assertDoesNotThrow(() -> longs.check(new Out().varint(1).string("k").varint(7).varint(0).bytes()));
        refusal(() -> longs.check(new Out().varint(2).string("k").varint(7).varint(0).bytes()));
        refusal(() -> longs.check(new Out().varint(1L << 40).string("k").varint(7).varint(0).bytes()));
    }
}
