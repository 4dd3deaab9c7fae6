package io.cmtstream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The layering the packages follow, checked on the compiled main classes. No allow-list and no frozen violations:
 * a new cycle fails here, and the fix is to move the type both sides need to where both may depend on it.
 */
class ArchitectureTest {

    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages("io.cmtstream");

    @Test
    void noPackageDependsOnItselfThroughAnother() {
        slices().matching("io.cmtstream.(*)..").namingSlices("$1")
                .should().beFreeOfCycles()
                .check(MAIN);
    }

    @Test
    void onlyTheModelPackageTouchesDjlAndOnnxRuntime() {
        noClasses().that().resideOutsideOfPackage("io.cmtstream.model..")
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
    void theRuleSeesTheJobsClasses() {
        // Guards the rules above against passing vacuously on an empty import (a moved output folder).
        assertTrue(MAIN.contain("io.cmtstream.memory.MemoryShardFunction"));
        assertTrue(MAIN.size() > 100, "classes imported: " + MAIN.size());
    }
}
