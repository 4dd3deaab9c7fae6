package io.cmtstream.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static io.cmtstream.model.ProtoBytes.bytes;
import static io.cmtstream.model.ProtoBytes.concat;
import static io.cmtstream.model.ProtoBytes.field;

/** The ONNX edit on hand-made protobuf bytes: a model with fields around its graph, nodes, and an output. */
class OnnxGraphOutputsTest {

    private static final String INNER = "/encoder/layer.7/output/LayerNorm/Add_1_output_0";

    private static final byte[] PREFIX = concat(new byte[] {0x08, 0x08}, field(2, bytes("t")));
    private static final byte[] SUFFIX = field(8, new byte[] {0x10, 0x0b});
    /** graph{node{output "h", output INNER, op_type "Add"}, name "g", initializer{...}, output{name "last"}}. */
    private static final byte[] GRAPH = concat(
            field(1, concat(field(2, bytes("h")), field(2, bytes(INNER)), field(4, bytes("Add")))),
            field(2, bytes("g")),
            // an initializer with float32 data the edit must copy untouched
            field(5, concat(new byte[] {0x08, 0x02}, field(9, new byte[] {0, 0, (byte) 0x80, 0x3f}))),
            field(12, field(1, bytes("last"))));
    /** ValueInfoProto{name INNER, type: TypeProto{tensor_type: {elem_type: FLOAT}}} as graph field 12. */
    private static final byte[] ADDED = field(12, concat(field(1, bytes(INNER)), field(2, field(1,
            new byte[] {0x08, 0x01}))));

    /** ModelProto{ir_version 8, producer "t", graph GRAPH, opset_import{version 11}}. */
    private static byte[] model() {
        return concat(PREFIX, field(7, GRAPH), SUFFIX);
    }

    @Test
    void declaresTheTensorAsALastFloatOutput() {
        assertEquals(List.of("last", INNER), OnnxGraphOutputs.outputs(OnnxGraphOutputs.withFloatOutput(model(), INNER)));
    }

    @Test
    void appendsTheOutputToTheGraphAndCopiesEveryOtherByte() {
        assertArrayEquals(concat(PREFIX, field(7, concat(GRAPH, ADDED)), SUFFIX),
                OnnxGraphOutputs.withFloatOutput(model(), INNER));
    }

    @Test
    void aGraphLongerThanOneLengthByteGetsALongerPrefix() {
        // 120 bytes of graph fit a one-byte length; with the output added they need two
        byte[] graph = concat(field(1, field(2, bytes(INNER))), field(2, bytes("n".repeat(60))));
        assertEquals(1, field(7, graph).length - graph.length - 1, "the graph's length takes one byte before");
        byte[] edited = OnnxGraphOutputs.withFloatOutput(field(7, graph), INNER);
        assertArrayEquals(field(7, concat(graph, ADDED)), edited);
        assertEquals(List.of(INNER), OnnxGraphOutputs.outputs(edited));
    }

    @Test
    void anAlreadyDeclaredOutputIsLeftAsItIs() {
        byte[] once = OnnxGraphOutputs.withFloatOutput(model(), INNER);
        assertArrayEquals(once, OnnxGraphOutputs.withFloatOutput(once, INNER));
    }

    @Test
    void aTensorNoNodeMakesIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxGraphOutputs.withFloatOutput(model(), "/encoder/layer.99/output"));
        assertTrue(e.getMessage().contains("no node of the ONNX graph outputs a tensor named '/encoder/layer.99/output'"),
                e.getMessage());
    }

    @Test
    void bytesThatAreNoModelAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> OnnxGraphOutputs.withFloatOutput(new byte[] {0x0a, 0x7f},
                INNER));
        assertThrows(IllegalArgumentException.class, () -> OnnxGraphOutputs.withFloatOutput(new byte[] {0x08, 0x01},
                INNER), "no graph");
    }

    @Test
    void theFileFormWritesWhatTheBytesFormMakes(@TempDir Path dir) throws IOException {
        Path source = dir.resolve("m.onnx");
        Files.write(source, model());
        Path target = dir.resolve("edited.onnx");
        OnnxGraphOutputs.withFloatOutput(source, INNER, target);
        assertArrayEquals(OnnxGraphOutputs.withFloatOutput(model(), INNER), Files.readAllBytes(target));
    }
}
