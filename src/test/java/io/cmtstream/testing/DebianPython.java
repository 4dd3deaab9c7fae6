package io.cmtstream.testing;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's /usr/bin/python3 with the modules a test needs (the `python3` first on PATH may be another one without
 * Debian's packages). Where something is missing, the test says what and how to install it: it is skipped on a
 * developer's machine and fails in CI (CI=true), where .ci/run installs the packages.
 */
public final class DebianPython {
    public static final Path PYTHON = Path.of("/usr/bin/python3");

    private DebianPython() {}

    /** Skips (or, in CI, fails) unless /usr/bin/python3 imports each module; the Debian packages name the fix. */
    public static void require(List<String> modules, String debianPackages) {
        String reason = unavailable(modules, debianPackages);
        Assumptions.assumeTrue(reason == null, reason);
    }

    /**
     * Null where /usr/bin/python3 imports each module; otherwise why not and what to install, for a test to skip
     * with (in a {@code @BeforeAll}, where a skip is neither counted nor shown, keep it and skip in the test). In
     * CI (CI=true) a missing module fails here instead.
     */
    public static String unavailable(List<String> modules, String debianPackages) {
        String missing = missing(modules);
        if (missing == null) {
            return null;
        }
        String message = missing + "; install with: apt-get install " + debianPackages;
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(message);
        }
        return message + " (skipped: CI is not \"true\")";
    }

    private static String missing(List<String> modules) {
        if (!Files.isExecutable(PYTHON)) {
            return PYTHON + " is missing";
        }
        List<String> absent = new ArrayList<>();
        for (String module : modules) {
            try {
                if (run(List.of("-c", "import " + module), Path.of("."), 60).exitCode() != 0) {
                    absent.add(module);
                }
            } catch (IOException e) {
                return PYTHON + " does not run: " + e.getMessage();
            }
        }
        return absent.isEmpty() ? null : PYTHON + " lacks the module(s) " + String.join(", ", absent);
    }

    /** A finished run: its exit code and its stdout and stderr together. */
    public record Result(int exitCode, String output) {}

    /** Runs /usr/bin/python3 with the arguments in the directory; fails the test past the timeout. */
    public static Result run(List<String> args, Path directory, int timeoutSeconds) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(PYTHON.toString());
        command.addAll(args);
        Path log = Files.createTempFile("python", ".log");
        try {
            Process process = new ProcessBuilder(command).directory(directory.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                Assertions.fail(String.join(" ", command) + " ran past " + timeoutSeconds + " s:\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + command, e);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
