package io.cmtstream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The layering the packages follow, checked on the compiled classes of the job and of tools/. No allow-list and no frozen violations:
 * a new cycle fails here, and the fix is to move the type both sides need to where both may depend on it.
 */
class ArchitectureTest {

    /**
     * The job's classes and the tools' (tools/, compiled with the tests), without the tests themselves: test classes
     * and their helpers follow the packages they test, but a test may reach across them.
     */
    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .withImportOption(ArchitectureTest::isMainOrTool)
            .importPackages("io.cmtstream");

    /** A class of target/classes, or one of target/test-classes whose source is in tools/. */
    private static boolean isMainOrTool(Location location) {
        String uri = location.asURI().toString();
        int at = uri.indexOf("/test-classes/");
        if (at < 0) {
            return true;
        }
        String name = uri.substring(at + "/test-classes/".length()).replaceAll("(\\$.*)?\\.class$", "");
        return Files.exists(Path.of("tools/src/main/java", name + ".java"));
    }

    @Test
    void noPackageDependsOnItselfThroughAnother() {
        slices().matching("io.cmtstream.(*)..").namingSlices("$1")
                .should().beFreeOfCycles()
                .check(MAIN);
    }

    @Test
    void onlyTheModelPackageTouchesDjlAndOnnxRuntime() {
        // The bench measures the machine's raw GEMM rate through DJL too, as the ceiling of the model's figures.
        noClasses().that().resideOutsideOfPackages("io.cmtstream.model..", "io.cmtstream.bench..")
                .should().dependOnClassesThat().resideInAnyPackage("ai.djl..", "ai.onnxruntime..")
                .check(MAIN);
    }

    @Test
    void theJobNeverDependsOnTheEvaluationOrTheSquadData() {
        noClasses().that().resideInAnyPackage("io.cmtstream.ingest..", "io.cmtstream.compress..",
                        "io.cmtstream.memory..", "io.cmtstream.answer..", "io.cmtstream.model..")
                .should().dependOnClassesThat().resideInAnyPackage("io.cmtstream.eval..", "io.cmtstream.squad..",
                        "io.cmtstream.app..")
                .check(MAIN);
    }

    @Test
    void theClientNeedsOnlyKafkaAvroAndTheSchemas() {
        // What the client jar holds (io/cmtstream/client, io/cmtstream/avro) must run without the Flink job.
        classes().that().resideInAnyPackage("io.cmtstream.client..", "io.cmtstream.avro..")
                .should().onlyDependOnClassesThat().resideInAnyPackage("io.cmtstream.client..", "io.cmtstream.avro..",
                        "org.apache.kafka..", "org.apache.avro..", "java..")
                .check(MAIN);
    }

    @Test
    void theRuleSeesTheJobsClasses() {
        // Guards the rules above against passing vacuously on an empty import (a moved output folder).
        assertTrue(MAIN.contain("io.cmtstream.memory.MemoryShardFunction"));
        assertTrue(MAIN.contain("io.cmtstream.eval.StreamingEvaluation"), "the tools' classes are checked too");
        assertTrue(MAIN.stream().noneMatch(c -> c.getSimpleName().endsWith("Test")), "tests are left out");
        assertTrue(MAIN.size() > 100, "classes imported: " + MAIN.size());
    }
}
