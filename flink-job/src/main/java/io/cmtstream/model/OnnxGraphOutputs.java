package io.cmtstream.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Declares an inner tensor of an ONNX model as one more graph output, so that one run of the model returns it
 * beside the outputs it already had (the backbone's state after an inner layer, contract {@code cmt-model/4}).
 *
 * <p>Why an edit of the file: ONNX Runtime only returns a graph's declared outputs. The edit is done on the
 * protobuf wire format without an ONNX library: the {@code ModelProto}'s {@code graph} (field 7) gets one more
 * {@code output} (field 12, a {@code ValueInfoProto} naming the tensor, element type FLOAT, shape left open), and
 * the graph's length prefix is re-encoded. Every other byte is copied as it was, so the 130 MB of weights are
 * neither parsed nor changed.
 *
 * <p>Stateless and thread-safe.
 */
final class OnnxGraphOutputs {

    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_OUTPUT = 12;
    private static final int NODE_OUTPUT = 2;
    private static final int VALUE_INFO_NAME = 1;
    private static final int WIRE_VARINT = 0;
    private static final int WIRE_FIXED64 = 1;
    private static final int WIRE_LENGTH = 2;
    private static final int WIRE_FIXED32 = 5;
    /** ONNX {@code TensorProto.DataType.FLOAT}. */
    private static final int ELEM_TYPE_FLOAT = 1;

    private OnnxGraphOutputs() {}

    /**
     * Writes to {@code target} the model in {@code source} with {@code tensor} declared as a float graph output.
     *
     * @throws IOException if a file cannot be read or written
     * @throws IllegalArgumentException if {@code source} is not an ONNX model or no node of its graph makes
     *     {@code tensor}
     */
    static void withFloatOutput(Path source, String tensor, Path target) throws IOException {
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
             OutputStream out = Files.newOutputStream(target)) {
            MappedByteBuffer model = in.map(FileChannel.MapMode.READ_ONLY, 0, in.size());
            write(model, tensor, Channels.newChannel(out));
        }
    }

    /** As {@link #withFloatOutput(Path, String, Path)}, in memory. */
    static byte[] withFloatOutput(byte[] model, String tensor) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(model.length + 64);
        try {
            write(ByteBuffer.wrap(model), tensor, Channels.newChannel(out));
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e);
        }
        return out.toByteArray();
    }

    /** The names of the model's graph outputs, in order. */
    static List<String> outputs(byte[] model) {
        Field graph = graph(ByteBuffer.wrap(model));
        List<String> names = new ArrayList<>();
        for (Field output : fields(graph.value(), GRAPH_OUTPUT)) {
            names.add(firstString(output.value(), VALUE_INFO_NAME));
        }
        return names;
    }

    private static void write(ByteBuffer model, String tensor, WritableByteChannel out) throws IOException {
        Field graph = graph(model);
        ByteBuffer graphBytes = graph.value();
        boolean declared = false;
        for (Field output : fields(graphBytes, GRAPH_OUTPUT)) {
            declared |= tensor.equals(firstString(output.value(), VALUE_INFO_NAME));
        }
        if (!declaredByANode(graphBytes, tensor)) {
            throw new IllegalArgumentException("no node of the ONNX graph outputs a tensor named '" + tensor + "'");
        }
        byte[] output = declared ? new byte[0] : lengthDelimited(GRAPH_OUTPUT, floatValueInfo(tensor));
        out.write(slice(model, 0, graph.tagStart()));
        out.write(ByteBuffer.wrap(header(MODEL_GRAPH, graphBytes.remaining() + output.length)));
        out.write(graphBytes.duplicate());
        out.write(ByteBuffer.wrap(output));
        out.write(slice(model, graph.end(), model.limit()));
    }

    private static boolean declaredByANode(ByteBuffer graph, String tensor) {
        for (Field node : fields(graph, GRAPH_NODE)) {
            for (Field output : fields(node.value(), NODE_OUTPUT)) {
                if (tensor.equals(string(output.value()))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** {@code ValueInfoProto{name, type: TypeProto{tensor_type: Tensor{elem_type: FLOAT}}}}. */
    private static byte[] floatValueInfo(String name) {
        byte[] elemType = {1 << 3 | WIRE_VARINT, ELEM_TYPE_FLOAT};
        byte[] typeProto = lengthDelimited(1, elemType);
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        info.writeBytes(lengthDelimited(VALUE_INFO_NAME, name.getBytes(StandardCharsets.UTF_8)));
        info.writeBytes(lengthDelimited(2, typeProto));
        return info.toByteArray();
    }

    private static Field graph(ByteBuffer model) {
        List<Field> graphs = fields(model, MODEL_GRAPH);
        if (graphs.size() != 1) {
            throw new IllegalArgumentException("not an ONNX model: " + graphs.size() + " graphs (field 7) at the top");
        }
        return graphs.get(0);
    }

    // ---- protobuf wire format -------------------------------------------------------------------------------

    /**
     * A length-delimited field of a message.
     *
     * @param tagStart where its tag starts in the enclosing buffer
     * @param value its payload (a view)
     * @param end where it ends in the enclosing buffer
     */
    private record Field(int tagStart, ByteBuffer value, int end) {}

    /** The length-delimited occurrences of field {@code number} in {@code message}, in order. */
    private static List<Field> fields(ByteBuffer message, int number) {
        ByteBuffer in = message.duplicate();
        int base = in.position();
        List<Field> found = new ArrayList<>();
        while (in.hasRemaining()) {
            int tagStart = in.position() - base;
            long tag = varint(in);
            int wire = (int) (tag & 7);
            switch (wire) {
                case WIRE_VARINT -> varint(in);
                case WIRE_FIXED64 -> skip(in, 8);
                case WIRE_FIXED32 -> skip(in, 4);
                case WIRE_LENGTH -> {
                    long length = varint(in);
                    if (length > in.remaining()) {
                        throw new IllegalArgumentException("truncated protobuf: field " + (tag >>> 3) + " wants "
                                + length + " bytes, " + in.remaining() + " left");
                    }
                    int start = in.position();
                    if (tag >>> 3 == number) {
                        found.add(new Field(tagStart, slice(in, start, start + (int) length),
                                start + (int) length - base));
                    }
                    in.position(start + (int) length);
                }
                default -> throw new IllegalArgumentException("not a protobuf message: wire type " + wire
                        + " at byte " + tagStart);
            }
        }
        return found;
    }

    private static String firstString(ByteBuffer message, int number) {
        List<Field> found = fields(message, number);
        return found.isEmpty() ? null : string(found.get(0).value());
    }

    private static String string(ByteBuffer bytes) {
        byte[] out = new byte[bytes.remaining()];
        bytes.duplicate().get(out);
        return new String(out, StandardCharsets.UTF_8);
    }

    private static ByteBuffer slice(ByteBuffer buffer, int from, int to) {
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

    private static long varint(ByteBuffer in) {
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

    private static byte[] lengthDelimited(int number, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + 8);
        out.writeBytes(header(number, payload.length));
        out.writeBytes(payload);
        return out.toByteArray();
    }

    /** Tag and length of a length-delimited field. */
    private static byte[] header(int number, long length) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(12);
        writeVarint(out, (long) number << 3 | WIRE_LENGTH);
        writeVarint(out, length);
        return out.toByteArray();
    }

    private static void writeVarint(ByteArrayOutputStream out, long value) {
        long v = value;
        while ((v & ~0x7fL) != 0) {
            out.write((int) (v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }
}
