package io.cmtstream.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The float32 initializers (the weights) of an ONNX model, read from the protobuf wire format without an ONNX
 * library ({@link ProtoWire}): {@code ModelProto.graph} (field 7), {@code GraphProto.initializer} (field 5), each a
 * {@code TensorProto} with {@code dims} (1), {@code data_type} (2), {@code float_data} (4, packed), {@code name} (8)
 * and {@code raw_data} (9, little-endian). Initializers of other types (the graph's int64 constants) are listed with
 * their type and no data; data kept in external files is refused.
 *
 * <p>The values are views of the bytes read ({@link Tensor#values}), not copies: a file is mapped, so its 130 MB of
 * weights are copied once, by whoever makes tensors of them. Stateless and thread-safe; a {@link Tensor} is
 * immutable as long as the bytes under it are.
 */
final class OnnxInitializers {

    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_DATA_LOCATION = 14;
    /** ONNX {@code TensorProto.DataType.FLOAT}. */
    static final int FLOAT = 1;
    /** ONNX {@code TensorProto.DataLocation.EXTERNAL}. */
    private static final int EXTERNAL = 1;

    private OnnxInitializers() {}

    /**
     * One initializer.
     *
     * @param name its name in the graph
     * @param dims its shape
     * @param dataType its ONNX element type ({@link #FLOAT} = float32)
     * @param floats its values, row-major, for a float32 initializer (a read-only view); null for other types
     */
    record Tensor(String name, long[] dims, int dataType, FloatBuffer floats) {

        /** The values: a fresh view from the first, positioned at 0. */
        FloatBuffer values() {
            return floats.duplicate();
        }
    }

    /** The initializers of the ONNX model in {@code file}, by name, in the file's order. */
    static Map<String, Tensor> read(Path file) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            // the mapping outlives the channel; it is released with the last view of it
            return read(in.map(FileChannel.MapMode.READ_ONLY, 0, in.size()));
        }
    }

    /**
     * The initializers of the ONNX model in {@code model}, by name, in order.
     *
     * @throws IllegalArgumentException if the bytes are no ONNX model, or an initializer's data does not fit its
     *     shape or lies in an external file
     */
    static Map<String, Tensor> read(ByteBuffer model) {
        List<ProtoWire.Field> graphs = ProtoWire.fields(model, MODEL_GRAPH);
        if (graphs.size() != 1) {
            throw new IllegalArgumentException("not an ONNX model: " + graphs.size() + " graphs (field 7) at the top");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (ProtoWire.Field initializer : ProtoWire.fields(graphs.get(0).value(), GRAPH_INITIALIZER)) {
            Tensor tensor = tensor(initializer.value());
            out.put(tensor.name(), tensor);
        }
        return out;
    }

    private static Tensor tensor(ByteBuffer proto) {
        String name = null;
        long[] dims = new long[0];
        int dataType = 0;
        ByteBuffer data = null;
        boolean external = false;
        for (ProtoWire.Field field : ProtoWire.fields(proto)) {
            switch (field.number()) {
                case TENSOR_NAME -> name = ProtoWire.string(field.value());
                case TENSOR_DIMS -> dims = appendDims(dims, field);
                case TENSOR_DATA_TYPE -> dataType = (int) field.varint();
                case TENSOR_RAW_DATA, TENSOR_FLOAT_DATA -> {
                    if (field.wire() != ProtoWire.WIRE_LENGTH) {
                        throw new IllegalArgumentException("initializer " + name + ": float_data not packed");
                    }
                    data = field.value();
                }
                case TENSOR_DATA_LOCATION -> external = field.varint() == EXTERNAL;
                default -> { }
            }
        }
        if (name == null) {
            throw new IllegalArgumentException("an ONNX initializer without a name");
        }
        if (external) {
            throw new IllegalArgumentException("initializer " + name + " keeps its data in an external file");
        }
        if (dataType != FLOAT) {
            return new Tensor(name, dims, dataType, null);
        }
        long size = Arrays.stream(dims).reduce(1, Math::multiplyExact);
        long bytes = data == null ? 0 : data.remaining();
        if (bytes != size * Float.BYTES) {
            throw new IllegalArgumentException("initializer " + name + " of shape " + Arrays.toString(dims)
                    + " has " + bytes + " bytes of float32 data, expected " + size * Float.BYTES);
        }
        FloatBuffer floats = data.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().asReadOnlyBuffer();
        return new Tensor(name, dims, dataType, floats);
    }

    /** {@code dims} is repeated int64: unpacked (proto2, as ONNX writes it) or packed. */
    private static long[] appendDims(long[] dims, ProtoWire.Field field) {
        if (field.wire() == ProtoWire.WIRE_VARINT) {
            long[] out = Arrays.copyOf(dims, dims.length + 1);
            out[dims.length] = field.varint();
            return out;
        }
        long[] out = dims;
        ByteBuffer packed = field.value().duplicate();
        while (packed.hasRemaining()) {
            out = Arrays.copyOf(out, out.length + 1);
            out[out.length - 1] = ProtoWire.varint(packed);
        }
        return out;
    }
}
