package io.cmtstream.app;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line shared by the entry points (picocli): help, errors, job options and pass-through keys. */
class CliTest {
    @TempDir
    Path tmp;

    @Test
    void helpListsTheCommandsFlagsAndEveryJobOptionAndExitsZero() throws Exception {
        Console console = new Console();
        int code = console.run(() -> Cli.execute(new EmbeddedMain(), "--help"));
        assertEquals(0, code, console.err);
        for (String flag : List.of("--articles", "--questions-per-article", "--set", "--timeout-seconds", "--squad",
                "--split", "--config", "--help")) {
            assertTrue(console.out.contains(flag), "help lacks " + flag + ":\n" + console.out);
        }
        for (ConfigOption<?> option : CmtStreamOptions.all()) {
            assertTrue(console.out.contains("--" + option.key()), "help lacks --" + option.key());
        }
        // With each option's default and description.
        String words = console.out.replaceAll("\\s+", " ");
        assertTrue(words.contains("Shards per tenant"), console.out);
        assertTrue(words.contains("(default: 4)"), console.out);
        assertTrue(words.contains("(default: 5 ms)"), console.out);
        assertFalse(console.out.contains("starting an in-process Kafka"), "help ran the demo");
    }

    @Test
    void theJobsMainPrintsHelpWithoutExitingOrRunning() throws Exception {
        Console console = new Console();
        console.run(() -> {
            ClusterMain.main(new String[] {"--help"});
            return 0;
        });
        assertTrue(console.out.contains("--cmt.kafka.bootstrap-servers"), console.out);
        assertTrue(console.out.contains("--config"), console.out);
    }

    @Test
    void aMisspeltFlagOrJobOptionFailsWithExitTwoNamingIt() throws Exception {
        for (List<String> args : List.of(List.of("--articels", "3"), List.of("--cmt.memory.shard", "2"),
                List.of("--cmt.memory.shards", "many"), List.of("--articles", "two"))) {
            Console console = new Console();
            int code = console.run(() -> Cli.execute(new EmbeddedMain(), args.toArray(new String[0])));
            assertEquals(2, code, args + ": " + console.err);
            String named = args.get(0).equals("--articles") ? "two" : args.get(0).replaceFirst("^--", "");
            assertTrue(console.err.contains(named), args + ": " + console.err);
            assertFalse(console.out.contains("starting an in-process Kafka"), "a bad command line ran the demo");
        }
    }

    @Test
    void jobOptionsFlinkKeysAndKafkaPropertiesOverTheConfigFile() throws Exception {
        Path file = Files.writeString(tmp.resolve("job.properties"),
                "cmt.memory.shards=8\ncmt.kafka.bootstrap-servers=kafka:9092\nparallelism.default=1\n");
        Configuration conf = JobConfig.fromArgs(new String[] {"--config", file.toString(),
                "--cmt.memory.shards", "2", "--parallelism.default", "3", "--state.backend.type=forst",
                "--cmt.kafka.properties.security.protocol", "SASL_SSL", "--cmt.model.batch-delay=7 ms"});
        assertEquals(2, conf.get(CmtStreamOptions.SHARDS));
        assertEquals("kafka:9092", conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
        assertEquals("3", conf.toMap().get("parallelism.default"));
        assertEquals("forst", conf.toMap().get("state.backend.type"));
        assertEquals("SASL_SSL", JobConfig.kafkaProperties(conf).getProperty("security.protocol"));
        assertEquals(7, conf.get(CmtStreamOptions.MODEL_BATCH_DELAY).toMillis());
        // Only what was given is set: an unset option keeps its default without hiding a Flink key.
        assertFalse(conf.contains(CmtStreamOptions.CHECKPOINT_INTERVAL));
    }

    @Test
    void anArgumentThatIsNeitherAFlagNorADottedKeyFailsNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JobConfig.fromArgs(new String[] {"--cmt.memory.shards", "2", "stray"}));
        assertTrue(e.getMessage().contains("stray"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> JobConfig.fromArgs(new String[] {"--shards", "2"}));
        assertTrue(e.getMessage().contains("--shards"), e.getMessage());
    }

    /** Runs a command with System.out and System.err captured. */
    private static final class Console {
        String out = "";
        String err = "";

        int run(Callable<Integer> command) throws Exception {
            PrintStream oldOut = System.out;
            PrintStream oldErr = System.err;
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            ByteArrayOutputStream e = new ByteArrayOutputStream();
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            try {
                return command.call();
            } finally {
                System.setOut(oldOut);
                System.setErr(oldErr);
                out = o.toString(StandardCharsets.UTF_8);
                err = e.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
