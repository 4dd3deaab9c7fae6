package io.cmtstream.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Grafana dashboard shipped with the chart queries the metrics the job really registers, under the names
 * Flink's Prometheus reporter gives them (flink_taskmanager_job_task_operator_[group_]name).
 */
class GrafanaDashboardTest {
    private static final Path DASHBOARD = HelmChartTest.CHART.resolve("dashboards/cmt-stream.json");
    private static final String PREFIX = "flink_taskmanager_job_task_operator_";

    @Test
    void dashboardIsGrafanaJsonWithAQueryInEveryPanel() throws IOException {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertEquals("cmt-stream", dashboard.path("uid").asText());
        assertTrue(dashboard.path("schemaVersion").asInt() > 30);
        for (JsonNode panel : dashboard.path("panels")) {
            if (!"row".equals(panel.path("type").asText())) {
                assertFalse(panel.path("targets").isEmpty(), "panel without a query: " + panel.path("title"));
                panel.path("targets").forEach(t -> assertFalse(t.path("expr").asText().isBlank()));
            }
        }
    }

    @Test
    void dashboardQueriesEveryMetricTheJobRegisters() throws IOException {
        String exprs = exprs();
        for (String metric : registeredMetrics()) {
            assertTrue(exprs.contains(PREFIX + metric), "the dashboard does not show " + metric);
        }
        assertTrue(exprs.contains(PREFIX + "deadLetters_.+"), "dead letters, one metric per rejection code");
    }

    @Test
    void dashboardQueriesEveryMetricTheReadmeDocuments() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        int start = readme.indexOf("## Metrics");
        assertTrue(start >= 0, "README has a Metrics section");
        String section = readme.substring(start, readme.indexOf("\n## ", start + 1));
        Matcher m = Pattern.compile("`([A-Za-z]+)(\\.<REASON>)?`").matcher(section);
        String exprs = exprs();
        int found = 0;
        while (m.find()) {
            String name = m.group(2) == null ? m.group(1) : m.group(1) + "_.+";
            assertTrue(exprs.contains(PREFIX + name), "the dashboard does not show " + m.group());
            found++;
        }
        assertTrue(found >= 10, "README metrics found: " + found);
    }

    private static String exprs() throws IOException {
        List<String> out = new ArrayList<>();
        new ObjectMapper().readTree(DASHBOARD.toFile()).path("panels")
                .forEach(p -> p.path("targets").forEach(t -> out.add(t.path("expr").asText())));
        return String.join("\n", out);
    }

    /** Metric names registered in the main code: literal names, and each model call's prefix + its suffixes. */
    private static Set<String> registeredMetrics() throws IOException {
        Set<String> names = new TreeSet<>();
        Pattern literal = Pattern.compile("\\.(?:counter|gauge|histogram|meter)\\(\\s*\"([A-Za-z]+)\"");
        Pattern prefix = Pattern.compile("metricPrefix\\(\\)\\s*\\{\\s*return\\s+\"([A-Za-z]+)\"");
        // ModelAsyncFunction names its metrics metricPrefix() + a suffix ("LatencyMs", "ModelBusyMs", ...).
        Pattern suffix = Pattern.compile("(?:metricPrefix\\(\\)|prefix)\\s*\\+\\s*\"([A-Za-z]+)\"");
        Set<String> prefixes = new TreeSet<>();
        Set<String> suffixes = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("flink-job/src/main/java"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String code = Files.readString(file);
                literal.matcher(code).results().forEach(r -> names.add(r.group(1)));
                prefix.matcher(code).results().forEach(r -> prefixes.add(r.group(1)));
                if (code.contains("abstract String metricPrefix()")) {
                    suffix.matcher(code).results().forEach(r -> suffixes.add(r.group(1)));
                }
            }
        }
        assertTrue(suffixes.containsAll(Set.of("LatencyMs", "ModelBusyMs")), "model metric suffixes: " + suffixes);
        prefixes.forEach(p -> suffixes.forEach(x -> names.add(p + x)));
        assertTrue(names.size() >= 10, "metrics found in the code: " + names);
        return names;
    }
}
