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

import static io.cmtstream.model.ProtoWire.fields;
import static io.cmtstream.model.ProtoWire.firstString;
import static io.cmtstream.model.ProtoWire.slice;
import static io.cmtstream.model.ProtoWire.string;

/**
 * Declares an inner tensor of an ONNX model as one more graph output, so that one run of the model returns it
 * beside the outputs it already had (the backbone's state after an inner layer, contract {@code cmt-model/4}).
 *
 * <p>Why an edit of the file: ONNX Runtime only returns a graph's declared outputs. The edit is done on the
 * protobuf wire format without an ONNX library ({@link ProtoWire}): the {@code ModelProto}'s {@code graph} (field 7) gets one more
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
        ProtoWire.Field graph = graph(ByteBuffer.wrap(model));
        List<String> names = new ArrayList<>();
        for (ProtoWire.Field output : fields(graph.value(), GRAPH_OUTPUT)) {
            names.add(firstString(output.value(), VALUE_INFO_NAME));
        }
        return names;
    }

    private static void write(ByteBuffer model, String tensor, WritableByteChannel out) throws IOException {
        ProtoWire.Field graph = graph(model);
        ByteBuffer graphBytes = graph.value();
        boolean declared = false;
        for (ProtoWire.Field output : fields(graphBytes, GRAPH_OUTPUT)) {
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
        for (ProtoWire.Field node : fields(graph, GRAPH_NODE)) {
            for (ProtoWire.Field output : fields(node.value(), NODE_OUTPUT)) {
                if (tensor.equals(string(output.value()))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** {@code ValueInfoProto{name, type: TypeProto{tensor_type: Tensor{elem_type: FLOAT}}}}. */
    private static byte[] floatValueInfo(String name) {
        byte[] elemType = {1 << 3 | ProtoWire.WIRE_VARINT, ELEM_TYPE_FLOAT};
        byte[] typeProto = lengthDelimited(1, elemType);
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        info.writeBytes(lengthDelimited(VALUE_INFO_NAME, name.getBytes(StandardCharsets.UTF_8)));
        info.writeBytes(lengthDelimited(2, typeProto));
        return info.toByteArray();
    }

    private static ProtoWire.Field graph(ByteBuffer model) {
        List<ProtoWire.Field> graphs = fields(model, MODEL_GRAPH);
        if (graphs.size() != 1) {
            throw new IllegalArgumentException("not an ONNX model: " + graphs.size() + " graphs (field 7) at the top");
        }
        return graphs.get(0);
    }

    // ---- protobuf wire format (writing) ----------------------------------------------------------------------

    private static byte[] lengthDelimited(int number, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + 8);
        out.writeBytes(header(number, payload.length));
        out.writeBytes(payload);
        return out.toByteArray();
    }

    /** Tag and length of a length-delimited field. */
    private static byte[] header(int number, long length) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(12);
        ProtoWire.writeVarint(out, (long) number << 3 | ProtoWire.WIRE_LENGTH);
        ProtoWire.writeVarint(out, length);
        return out.toByteArray();
    }

}
