package io.cmtstream.model;

import ai.djl.Device;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The backbone engine's choice where it fails before anything is loaded. */
class BackboneTest {

    @TempDir
    Path dir;

    private ModelConfig modelWithoutScript() throws IOException {
        Files.writeString(dir.resolve("model.json"), """
                {
                  "format": "cmt-model/4", "name": "cmt-test", "version": "v",
                  "backbone": { "kind": "onnx-bert", "onnxResource": "bge-small-en-v1.5.onnx",
                                "tokenizerResource": "bge-small-en-v1.5-tokenizer.json", "hidden": 384,
                                "memoryOutput": "/encoder/layer.5/output/LayerNorm/Add_1_output_0", "memoryLayer": 6 },
                  "dims": { "hidden": 384, "key": 384, "vocab": 30522 },
                  "maxDocumentTokens": 256, "maxQueryTokens": 64, "maxAnswerTokens": 30,
                  "tokens": { "pad": 0, "cls": 101, "sep": 102 },
                  "memory": { "kind": "token-states", "storage": "int8-per-token" },
                  "files": { "embeddings": "embeddings.pt", "compressor": "compressor.pt", "reader": "reader.pt" }
                }""");
        for (String file : new String[] {"embeddings.pt", "compressor.pt", "reader.pt"}) {
            Files.write(dir.resolve(file), new byte[] {1});
        }
        return ModelConfig.read(dir);
    }

    @Test
    void torchIsRefusedForAModelWithoutABackboneScript() throws IOException {
        List<AutoCloseable> opened = new ArrayList<>();
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> Backbone.load(modelWithoutScript(), "cpu", Device.cpu(), "torch", opened));
        assertEquals("backbone engine torch needs a backbone script, which " + dir.resolve("model.json")
                + " does not name (files.backbone, docs/MODEL-CONTRACT.md)", e.getMessage());
        assertTrue(opened.isEmpty(), "nothing loaded");
    }

    @Test
    void anUnknownEngineIsRefused() throws IOException {
        ModelConfig config = modelWithoutScript();
        assertThrows(IllegalArgumentException.class,
                () -> Backbone.load(config, "cpu", Device.cpu(), "tensorrt", new ArrayList<>()));
    }
}
