package io.cmtstream.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static io.cmtstream.model.ProtoBytes.bytes;
import static io.cmtstream.model.ProtoBytes.concat;
import static io.cmtstream.model.ProtoBytes.field;
import static io.cmtstream.model.ProtoBytes.varintField;

/**
 * The ONNX initializers read from hand-made protobuf bytes: both ways float data is stored, ONNX's unpacked dims,
 * initializers of other types, and data that does not fit its shape.
 */
class OnnxInitializersTest {

    /** TensorProto{dims 2, dims 3, data_type FLOAT, name "w", raw_data 6 little-endian floats}. */
    private static final byte[] RAW = concat(varintField(1, 2), varintField(1, 3), varintField(2, 1),
            field(8, bytes("w")), field(9, floats(1, -2, 3.5f, 0, 1e-7f, -1e30f)));
    /** TensorProto{dims 2 (packed), data_type FLOAT, float_data [0.25, 4] (packed), name "b"}. */
    private static final byte[] PACKED = concat(field(1, new byte[] {2}), varintField(2, 1),
            field(4, floats(0.25f, 4)), field(8, bytes("b")));
    /** TensorProto{dims 1, data_type INT64, name "onnx::Unsqueeze_1", raw_data 8 bytes}. */
    private static final byte[] INT64 = concat(varintField(1, 1), varintField(2, 7), field(8, bytes("onnx::Unsqueeze_1")),
            field(9, new byte[8]));

    private static byte[] model(byte[]... initializers) {
        ByteArrayOutputStream graph = new ByteArrayOutputStream();
        graph.writeBytes(field(1, field(4, bytes("Add"))));
        for (byte[] initializer : initializers) {
            graph.writeBytes(field(5, initializer));
        }
        graph.writeBytes(field(12, field(1, bytes("last"))));
        return concat(varintField(1, 8), field(2, bytes("t")), field(7, graph.toByteArray()),
                field(8, varintField(2, 11)));
    }

    @Test
    void readsRawAndPackedFloatDataWithTheirShapes() {
        Map<String, OnnxInitializers.Tensor> read = OnnxInitializers.read(ByteBuffer.wrap(model(RAW, PACKED)));
        assertEquals(List.of("w", "b"), List.copyOf(read.keySet()));
        OnnxInitializers.Tensor w = read.get("w");
        assertArrayEquals(new long[] {2, 3}, w.dims());
        assertEquals(OnnxInitializers.FLOAT, w.dataType());
        assertArrayEquals(new float[] {1, -2, 3.5f, 0, 1e-7f, -1e30f}, array(w.values()));
        OnnxInitializers.Tensor b = read.get("b");
        assertArrayEquals(new long[] {2}, b.dims());
        assertArrayEquals(new float[] {0.25f, 4}, array(b.values()));
    }

    @Test
    void eachViewOfTheValuesStartsAtTheFirst() {
        OnnxInitializers.Tensor b = OnnxInitializers.read(ByteBuffer.wrap(model(PACKED))).get("b");
        array(b.values());
        assertEquals(0.25f, b.values().get());
    }

    @Test
    void otherTypesAreListedWithoutData() {
        OnnxInitializers.Tensor constant = OnnxInitializers.read(ByteBuffer.wrap(model(INT64, RAW)))
                .get("onnx::Unsqueeze_1");
        assertEquals(7, constant.dataType());
        assertNull(constant.floats());
    }

    @Test
    void dataThatDoesNotFitTheShapeIsRefused() {
        byte[] tooShort = concat(varintField(1, 3), varintField(2, 1), field(8, bytes("x")), field(9, floats(1, 2)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxInitializers.read(ByteBuffer.wrap(model(tooShort))));
        assertEquals("initializer x of shape [3] has 8 bytes of float32 data, expected 12", e.getMessage());
    }

    @Test
    void externalDataIsRefused() {
        byte[] external = concat(varintField(1, 1), varintField(2, 1), field(8, bytes("x")), varintField(14, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxInitializers.read(ByteBuffer.wrap(model(external))));
        assertTrue(e.getMessage().contains("external"), e.getMessage());
    }

    @Test
    void bytesThatAreNoModelAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> OnnxInitializers.read(ByteBuffer.wrap(RAW)));
        assertThrows(IllegalArgumentException.class,
                () -> OnnxInitializers.read(ByteBuffer.wrap(new byte[] {0x0f, 1, 2})));
    }

    @Test
    void theFileFormReadsWhatTheBytesFormReads(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("m.onnx");
        Files.write(file, model(INT64, RAW, PACKED));
        Map<String, OnnxInitializers.Tensor> read = OnnxInitializers.read(file);
        assertEquals(List.of("onnx::Unsqueeze_1", "w", "b"), List.copyOf(read.keySet()));
        assertArrayEquals(new float[] {1, -2, 3.5f, 0, 1e-7f, -1e30f}, array(read.get("w").values()));
    }

    private static float[] array(FloatBuffer buffer) {
        float[] out = new float[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    private static byte[] floats(float... values) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            out.putFloat(v);
        }
        return out.array();
    }
}
