package io.cmtstream.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Protobuf wire-format bytes written by hand, for tests of the ONNX readers that parse them without a library. */
final class ProtoBytes {

    private ProtoBytes() {}

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** A length-delimited field. */
    static byte[] field(int number, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProtoWire.writeVarint(out, (long) number << 3 | 2);
        ProtoWire.writeVarint(out, payload.length);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    /** A varint field. */
    static byte[] varintField(int number, long value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProtoWire.writeVarint(out, (long) number << 3);
        ProtoWire.writeVarint(out, value);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

}
