package io.cmtstream.training;

import io.cmtstream.testing.DebianPython;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training package's own checks (training/tests: shapes, trace parity on tiny random models, no import cycle
 * between its modules), run inside the README's test command so CI runs them.
 */
class TrainingScriptsITCase {
    @Test
    void theTrainingPackagesUnitTestsPass() throws Exception {
        DebianPython.require(List.of("torch", "onnx", "numpy"), "python3-torch python3-onnx python3-numpy");
        DebianPython.Result result = DebianPython.run(
                List.of("-m", "unittest", "discover", "-s", "training/tests", "-t", "."), Path.of("."), 600);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("OK"), result.output());
    }
}
