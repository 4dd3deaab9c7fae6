package io.cmtstream.model;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading the protobuf wire format without a protobuf library, as much as the ONNX files need
 * ({@link OnnxGraphOutputs}, {@link OnnxInitializers}): a message is split into its fields, each a view of the
 * bytes it was read from, so a 130 MB model is neither copied nor parsed beyond the fields asked for.
 *
 * <p>Stateless and thread-safe; the buffers given are never modified (their positions neither).
 */
final class ProtoWire {

    static final int WIRE_VARINT = 0;
    static final int WIRE_FIXED64 = 1;
    static final int WIRE_LENGTH = 2;
    static final int WIRE_FIXED32 = 5;

    private ProtoWire() {}

    /**
     * One field of a message.
     *
     * @param number the field number
     * @param wire the wire type
     * @param varint the value of a varint field (0 for others)
     * @param value the payload of a length-delimited or fixed-width field (a view; empty for a varint)
     * @param tagStart where its tag starts in the enclosing message
     * @param end where it ends in the enclosing message
     */
    record Field(int number, int wire, long varint, ByteBuffer value, int tagStart, int end) {}

    /** Every field of {@code message}, in order. */
    static List<Field> fields(ByteBuffer message) {
        ByteBuffer in = message.duplicate();
        int base = in.position();
        List<Field> found = new ArrayList<>();
        while (in.hasRemaining()) {
            int tagStart = in.position() - base;
            long tag = varint(in);
            int wire = (int) (tag & 7);
            int number = (int) (tag >>> 3);
            long value = 0;
            int start = in.position();
            switch (wire) {
                case WIRE_VARINT -> {
                    value = varint(in);
                    start = in.position();
                }
                case WIRE_FIXED64 -> skip(in, 8);
                case WIRE_FIXED32 -> skip(in, 4);
                case WIRE_LENGTH -> {
                    long length = varint(in);
                    if (length > in.remaining()) {
                        throw new IllegalArgumentException("truncated protobuf: field " + number + " wants "
                                + length + " bytes, " + in.remaining() + " left");
                    }
                    start = in.position();
                    in.position(start + (int) length);
                }
                default -> throw new IllegalArgumentException("not a protobuf message: wire type " + wire
                        + " at byte " + tagStart);
            }
            found.add(new Field(number, wire, value, slice(in, start, in.position()), tagStart,
                    in.position() - base));
        }
        return found;
    }

    /** The length-delimited occurrences of field {@code number} in {@code message}, in order. */
    static List<Field> fields(ByteBuffer message, int number) {
        List<Field> found = new ArrayList<>();
        for (Field field : fields(message)) {
            if (field.number() == number && field.wire() == WIRE_LENGTH) {
                found.add(field);
            }
        }
        return found;
    }

    /** The first length-delimited field {@code number} as a string, or null. */
    static String firstString(ByteBuffer message, int number) {
        List<Field> found = fields(message, number);
        return found.isEmpty() ? null : string(found.get(0).value());
    }

    static String string(ByteBuffer bytes) {
        byte[] out = new byte[bytes.remaining()];
        bytes.duplicate().get(out);
        return new String(out, StandardCharsets.UTF_8);
    }

    /** A view of {@code buffer}'s bytes {@code from} (inclusive) to {@code to}, absolute indexes. */
    static ByteBuffer slice(ByteBuffer buffer, int from, int to) {
        ByteBuffer view = buffer.duplicate();
        view.limit(to);
        view.position(from);
        return view.slice();
    }

    private static void skip(ByteBuffer in, int bytes) {
        if (in.remaining() < bytes) {
            throw new IllegalArgumentException("truncated protobuf");
        }
        in.position(in.position() + bytes);
    }

    /** Reads a varint at {@code in}'s position, advancing it. */
    static long varint(ByteBuffer in) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (!in.hasRemaining()) {
                throw new IllegalArgumentException("truncated protobuf varint");
            }
            byte b = in.get();
            value |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw new IllegalArgumentException("malformed protobuf varint");
    }

    /** Appends {@code value} to {@code out} as a base-128 varint. */
    static void writeVarint(ByteArrayOutputStream out, long value) {
        long v = value;
        while ((v & ~0x7fL) != 0) {
            out.write((int) (v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }
}
