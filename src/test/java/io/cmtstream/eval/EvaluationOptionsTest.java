package io.cmtstream.eval;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvaluationOptionsTest {

    @Test
    void defaultsEvaluateTheBundledModelOnTheTestSet() {
        EvaluationOptions o = EvaluationOptions.parse();
        assertEquals(Path.of("data/squad/squad-v1.1-dev-open.json"), o.squad());
        assertEquals(Path.of("data/squad/split.json"), o.split());
        assertEquals("test", o.set());
        assertEquals(Path.of("models/cmt-bge-small-squad"), o.model());
        assertEquals(Optional.empty(), o.untunedModel());
        assertEquals(5, o.k());
        assertEquals(0, o.limit());
        assertEquals(Path.of("docs/eval"), o.out());
        assertEquals("auto", o.device());
    }

    @Test
    void acceptsSpaceAndEqualsForms() {
        EvaluationOptions o = EvaluationOptions.parse("--set", "validation", "--k=3", "--limit", "50",
                "--untuned-model=src/test/resources/models/retrieval-only", "--out", "/tmp/x", "--device", "cpu");
        assertEquals("validation", o.set());
        assertEquals(3, o.k());
        assertEquals(50, o.limit());
        assertEquals(Optional.of(Path.of("src/test/resources/models/retrieval-only")), o.untunedModel());
        assertEquals(Path.of("/tmp/x"), o.out());
        assertEquals("cpu", o.device());
    }

    @Test
    void unknownOptionFailsNamingIt() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> EvaluationOptions.parse("--topk", "5"));
        assertTrue(e.getMessage().contains("--topk"), e.getMessage());
    }

    @Test
    void invalidValuesFailNamingTheOption() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvaluationOptions.parse("--k", "five"))
                .getMessage().contains("--k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvaluationOptions.parse("--k", "0"))
                .getMessage().contains("--k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvaluationOptions.parse("--limit"))
                .getMessage().contains("--limit"));
    }
}
