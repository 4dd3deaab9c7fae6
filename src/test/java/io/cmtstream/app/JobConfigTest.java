package io.cmtstream.app;

import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JobConfigTest {
    @Test
    void flagsOverrideTheConfigFile() throws Exception {
        Path file = Files.createTempFile("cmt", ".properties");
        Files.writeString(file, "cmt.memory.shards=8\ncmt.kafka.bootstrap-servers=kafka:9092\n");
        Configuration conf = JobConfig.fromArgs(new String[] {"--config", file.toString(), "--cmt.memory.shards", "2"});
        assertEquals(2, conf.get(CmtStreamOptions.SHARDS));
        assertEquals("kafka:9092", conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
    }

    @Test
    void unknownKeyFailsNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JobConfig.fromMap(Map.of("cmt.memory.shard", "2")));
        assertTrue(e.getMessage().contains("'cmt.memory.shard'"), e.getMessage());
    }

    @Test
    void invalidValueFailsNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JobConfig.fromMap(Map.of("cmt.memory.shards", "many")));
        assertTrue(e.getMessage().contains("'cmt.memory.shards'"), e.getMessage());
    }

    @Test
    void kafkaSecuritySettingsPassThroughWithoutPrefix() {
        Configuration conf = JobConfig.fromMap(Map.of("cmt.kafka.properties.security.protocol", "SASL_SSL"));
        assertEquals("SASL_SSL", JobConfig.kafkaProperties(conf).getProperty("security.protocol"));
    }

    @Test
    void defaultTopKComesFromTheModelUnlessConfigured() throws Exception {
        Path dir = Files.createTempDirectory("cmt-model");
        String json = Files.readString(Path.of("src/test/resources/models/retrieval-only/model.json"));
        Files.writeString(dir.resolve("model.json"), json.replaceFirst("\\{", "{\"defaultTopK\": 5,"));
        Configuration conf = JobConfig.fromMap(Map.of("cmt.model.dir", dir.toString()));
        assertEquals(5, CmtStreamJob.defaultTopK(conf));
        conf.set(CmtStreamOptions.DEFAULT_TOP_K, 2);
        assertEquals(2, CmtStreamJob.defaultTopK(conf));
        Configuration noModelK = JobConfig.fromMap(Map.of("cmt.model.dir", "src/test/resources/models/retrieval-only"));
        assertEquals(3, CmtStreamJob.defaultTopK(noModelK));
        Configuration noModel = JobConfig.fromMap(Map.of("cmt.model.dir", dir.resolve("missing").toString()));
        assertEquals(3, CmtStreamJob.defaultTopK(noModel));
    }

    @Test
    void readmeNamesTheFlinkKeyThatGovernsEachDuplicatedOption() throws Exception {
        List<String> readme = Files.readAllLines(Path.of("README.md"));
        for (FlinkSettings.Overlap overlap : FlinkSettings.OVERLAPS) {
            String flinkKey = "`" + overlap.flinkOption().key() + "`";
            String jobKey = "`" + overlap.jobOption().key() + "`";
            assertTrue(readme.stream().anyMatch(l -> l.startsWith("| " + jobKey) && l.contains(flinkKey)),
                    "README's option table: " + jobKey + " does not name " + flinkKey);
            assertTrue(readme.stream().anyMatch(l -> l.startsWith("| " + flinkKey) && l.contains(jobKey)),
                    "README's table of Flink's keys lacks " + flinkKey + " -> " + jobKey);
        }
    }

    @Test
    void readmeDocumentsEveryOption() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        for (var option : CmtStreamOptions.all()) {
            assertTrue(readme.contains("`" + option.key() + "`"), "README lacks " + option.key());
        }
    }
}
