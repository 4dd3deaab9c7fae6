package io.cmtstream.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.app.JobConfig;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Helm chart (helm/cmt-stream), linted and rendered by real Helm (helm-java carries Helm's native library, so
 * no helm binary and no cluster are needed): the rendered objects are valid Kubernetes objects, the FlinkDeployment
 * validates against the Flink Kubernetes Operator's own CRD schema, and the rendered job configuration passes the
 * job's own start-up validation.
 */
class HelmChartTest {
    static final Path CHART = Path.of("helm/cmt-stream");
    static final Path GPU_S3_SASL = CHART.resolve("ci/gpu-s3-sasl-values.yaml");
    /** The chart's defaults plus the one value they require (the S3 bucket). */
    static final Path DEFAULTS = CHART.resolve("ci/s3-values.yaml");
    private static final String RELEASE = "cmt";
    private static final String NAMESPACE = "streaming";
    private static final String FLINK_DEPLOYMENT_CRD = "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml";

    @TempDir
    Path tmp;

    @Test
    void chartPassesStrictHelmLint() throws Exception {
        // helm lint renders the chart's own values.yaml, which lacks the required bucket on purpose: lint a copy
        // whose values.yaml has it (as chart-testing lints with each ci/*-values.yaml). Lint also validates
        // values.yaml against values.schema.json.
        LintResult lint = new Helm(chartWithValues(DEFAULTS)).lint().strict().call();
        assertFalse(lint.isFailed(), () -> "helm lint --strict: " + lint.getMessages());
    }

    @Test
    void defaultValuesRenderValidObjects() {
        List<JsonNode> objects = render(t -> t);
        assertEquals(Set.of("ConfigMap", "FlinkDeployment", "Service"), kinds(objects));
        assertValid(objects);
    }

    @Test
    void gpuS3SaslValuesRenderValidObjects() {
        List<JsonNode> objects = render(t -> t.withValuesFile(GPU_S3_SASL));
        assertEquals(Set.of("ConfigMap", "FlinkDeployment", "Service", "ServiceMonitor"), kinds(objects));
        assertValid(objects);
    }

    @Test
    void flinkDeploymentRunsTheJobJarInApplicationMode() {
        JsonNode spec = the(render(t -> t), "FlinkDeployment").path("spec");
        JsonNode job = spec.path("job");
        assertEquals("local:///opt/flink/usrlib/cmt-stream.jar", job.path("jarURI").asText());
        assertEquals("io.cmtstream.app.ClusterMain", job.path("entryClass").asText());
        assertEquals(List.of("--config", "/etc/cmt-stream/cmt-stream.properties"), texts(job.path("args")));
        assertEquals("savepoint", job.path("upgradeMode").asText());
        assertEquals("v2_2", spec.path("flinkVersion").asText());
        JsonNode conf = spec.path("flinkConfiguration");
        assertEquals("rocksdb", conf.path("state.backend.type").asText());
        assertEquals("true", conf.path("execution.checkpointing.incremental").asText());
        assertEquals("s3://flink-state/cmt-stream/cmt-cmt-stream/checkpoints", conf.path("execution.checkpointing.dir").asText());
        assertEquals("s3://flink-state/cmt-stream/cmt-cmt-stream/savepoints", conf.path("execution.checkpointing.savepoint-dir").asText());
        assertEquals("kubernetes", conf.path("high-availability.type").asText());
        assertEquals("org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
                conf.path("metrics.reporter.prom.factory.class").asText());
        assertEquals("9249", conf.path("metrics.reporter.prom.port").asText());
        // The ConfigMap holding the job's config file is mounted where --config reads it.
        JsonNode container = spec.path("podTemplate").path("spec").path("containers").get(0);
        assertEquals("flink-main-container", container.path("name").asText());
        assertTrue(mountPaths(container).contains("/etc/cmt-stream/cmt-stream.properties"));
    }

    @Test
    void javaOptionsCarryEveryOpenTheBuildUsesAndDjlOffline() throws Exception {
        String opts = the(render(t -> t), "FlinkDeployment").path("spec").path("flinkConfiguration")
                .path("env.java.opts.all").asText();
        // The operator's configuration replaces the image's, so the chart gives the whole list (pom.xml's
        // flink.jvm.opens ends with -Dai.djl.offline=true), plus Flink's own Java 17 exports.
        for (String option : DockerImageTest.pomProperty("flink.jvm.opens").split("\\s+")) {
            assertTrue(opts.contains(option), "env.java.opts.all lacks " + option);
        }
        assertTrue(opts.contains("--add-exports=java.base/sun.net.util=ALL-UNNAMED"), opts);
    }

    @Test
    void renderedConfigFilePassesTheJobsValidation() throws Exception {
        Configuration conf = jobConfig(render(t -> t));
        assertEquals("kafka:9092", conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
        assertEquals(4, conf.get(CmtStreamOptions.SHARDS));
        assertEquals("auto", conf.get(CmtStreamOptions.MODEL_DEVICE));
        assertEquals(DockerImageTest.imageModelDir(), conf.get(CmtStreamOptions.MODEL_DIR));
        assertEquals("PLAINTEXT", JobConfig.kafkaProperties(conf).getProperty("security.protocol"));
    }

    @Test
    void gpuValuesRequestGpusOnTaskManagersOnly() throws Exception {
        List<JsonNode> objects = render(t -> t.withValuesFile(GPU_S3_SASL));
        JsonNode spec = the(objects, "FlinkDeployment").path("spec");
        assertEquals("cmt-stream:0.1.0-cu128", spec.path("image").asText());
        JsonNode tm = spec.path("taskManager").path("podTemplate").path("spec");
        assertEquals(1, tm.path("containers").get(0).path("resources").path("limits").path("nvidia.com/gpu").asInt());
        assertEquals("true", tm.path("nodeSelector").path("nvidia.com/gpu.present").asText());
        assertEquals("nvidia.com/gpu", tm.path("tolerations").get(0).path("key").asText());
        assertTrue(spec.path("jobManager").path("podTemplate").isMissingNode(), "the job manager needs no GPU");
        assertEquals("gpu", jobConfig(objects).get(CmtStreamOptions.MODEL_DEVICE));
        assertEquals(8, jobConfig(objects).get(CmtStreamOptions.SHARDS));
        assertEquals("acme,globex", the(objects, "FlinkDeployment").path("metadata").path("annotations")
                .path("cmt-stream.io/tenants").asText());
    }

    @Test
    void s3ValuesEnableTheS3PluginAndCredentialsFromASecret() throws Exception {
        JsonNode spec = the(render(t -> t.withValuesFile(GPU_S3_SASL)), "FlinkDeployment").path("spec");
        JsonNode conf = spec.path("flinkConfiguration");
        assertEquals("s3://flink-state/cmt-stream/cmt-cmt-stream/checkpoints", conf.path("execution.checkpointing.dir").asText());
        assertEquals("s3://flink-state/cmt-stream/cmt-cmt-stream/ha", conf.path("high-availability.storageDir").asText());
        assertEquals("http://minio.minio:9000", conf.path("s3.endpoint").asText());
        assertEquals("true", conf.path("s3.path.style.access").asText());
        Map<String, JsonNode> env = new java.util.HashMap<>();
        spec.path("podTemplate").path("spec").path("containers").get(0).path("env")
                .forEach(e -> env.put(e.path("name").asText(), e));
        // The plugin jar of the Flink release the image is built on.
        assertEquals("flink-s3-fs-presto-" + DockerImageTest.pomProperty("flink.version") + ".jar",
                env.get("ENABLE_BUILT_IN_PLUGINS").path("value").asText());
        assertEquals("cmt-stream-s3", env.get("AWS_SECRET_ACCESS_KEY").path("valueFrom").path("secretKeyRef")
                .path("name").asText());
    }

    @Test
    void saslAndTlsSecretsAreMountedFilesTheKafkaClientsRead() throws Exception {
        List<JsonNode> objects = render(t -> t.withValuesFile(GPU_S3_SASL));
        Properties kafka = JobConfig.kafkaProperties(jobConfig(objects));
        assertEquals("SASL_SSL", kafka.getProperty("security.protocol"));
        assertEquals("SCRAM-SHA-512", kafka.getProperty("sasl.mechanism"));
        assertEquals("org.apache.kafka.common.config.provider.DirectoryConfigProvider",
                kafka.getProperty("config.providers.dir.class"));
        String jaas = kafka.getProperty("sasl.jaas.config");
        assertTrue(jaas.startsWith("org.apache.kafka.common.security.scram.ScramLoginModule required "), jaas);
        assertTrue(jaas.contains("password=\"${dir:/etc/cmt-stream/kafka-sasl:password}\""), jaas);
        assertEquals("/etc/cmt-stream/kafka-tls/ca.crt", kafka.getProperty("ssl.truststore.location"));
        assertEquals("use_all_dns_ips", kafka.getProperty("client.dns.lookup"));

        JsonNode pod = the(objects, "FlinkDeployment").path("spec").path("podTemplate").path("spec");
        assertTrue(mountPaths(pod.path("containers").get(0)).containsAll(
                List.of("/etc/cmt-stream/kafka-sasl", "/etc/cmt-stream/kafka-tls")));
        Map<String, JsonNode> volumes = new java.util.HashMap<>();
        pod.path("volumes").forEach(v -> volumes.put(v.path("name").asText(), v));
        JsonNode sasl = volumes.get("kafka-sasl").path("secret");
        assertEquals("cmt-stream-kafka-user", sasl.path("secretName").asText());
        assertEquals(List.of("username", "password"), texts(sasl.path("items"), "path"));
        assertEquals("my-cluster-cluster-ca-cert", volumes.get("kafka-tls").path("secret").path("secretName").asText());
    }

    @Test
    void serviceMonitorScrapesTheMetricsServiceOfThisRelease() {
        List<JsonNode> objects = render(t -> t.withValuesFile(GPU_S3_SASL));
        JsonNode monitor = the(objects, "ServiceMonitor");
        assertEquals("monitoring.coreos.com/v1", monitor.path("apiVersion").asText());
        assertEquals("kube-prometheus-stack", monitor.path("metadata").path("labels").path("release").asText());
        JsonNode service = the(objects, "Service");
        monitor.path("spec").path("selector").path("matchLabels").fields().forEachRemaining(e ->
                assertEquals(e.getValue().asText(), service.path("metadata").path("labels").path(e.getKey()).asText(),
                        "ServiceMonitor selects label " + e.getKey()));
        assertEquals("metrics", monitor.path("spec").path("endpoints").get(0).path("port").asText());
        assertEquals("metrics", service.path("spec").path("ports").get(0).path("name").asText());
        // Flink's native Kubernetes labels of the job manager and task manager pods.
        assertEquals("cmt-cmt-stream", service.path("spec").path("selector").path("app").asText());
        assertEquals("flink-native-kubernetes", service.path("spec").path("selector").path("type").asText());
    }

    @Test
    void grafanaDashboardConfigMapCarriesTheDashboard() throws Exception {
        List<JsonNode> objects = render(t -> t.withValuesFile(GPU_S3_SASL));
        JsonNode dashboard = objects.stream()
                .filter(o -> o.path("metadata").path("name").asText().endsWith("-dashboard")).findFirst().orElseThrow();
        assertEquals("1", dashboard.path("metadata").path("labels").path("grafana_dashboard").asText());
        JsonNode json = Manifests.YAML.readTree(dashboard.path("data").path("cmt-stream.json").asText());
        assertEquals("cmt-stream", json.path("uid").asText());
    }

    @Test
    void flinkConfigurationValuesOverrideTheChartsOwnSettings() {
        JsonNode conf = the(render(t -> t
                .set("flinkConfiguration.pipeline\\.max-parallelism", "256")
                .set("rocksdb.options.state\\.backend\\.rocksdb\\.predefined-options", "DEFAULT")),
                "FlinkDeployment").path("spec").path("flinkConfiguration");
        assertEquals("256", conf.path("pipeline.max-parallelism").asText());
        assertEquals("DEFAULT", conf.path("state.backend.rocksdb.predefined-options").asText());
    }

    @Test
    void flinkVersionOutsideTheOperatorsEnumFailsValidation() {
        JsonNode spec = the(render(t -> t.set("flinkVersion", "v2_9")), "FlinkDeployment").path("spec");
        List<String> errors = Manifests.schemaErrors(spec, flinkDeploymentSpecSchema(), "spec");
        assertTrue(errors.stream().anyMatch(e -> e.contains("flinkVersion")), errors::toString);
    }

    @Test
    void saslWithoutASecretFailsToRenderNamingTheValue() {
        Exception e = assertThrows(Exception.class,
                () -> render(t -> t.set("kafka.sasl.enabled", "true")));
        assertTrue(e.getMessage().contains("kafka.sasl.secretName"), e.getMessage());
    }

    @Test
    void theChartsOwnValuesFailToRenderUntilTheBucketIsNamed() {
        // No default storage that stays Pending: S3 is the default and its bucket is required.
        Exception e = assertThrows(Exception.class, () -> Manifests.parseAll(
                new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE).call()));
        assertTrue(e.getMessage().contains("storage.s3.bucket"), e.getMessage());
        assertTrue(e.getMessage().contains("storage.pvc.storageClassName"), e.getMessage());
    }

    @Test
    void aVolumeForStateNeedsAReadWriteManyClassOrAnExistingClaim() {
        Exception e = assertThrows(Exception.class, () -> render(t -> t.set("storage.type", "pvc")));
        assertTrue(e.getMessage().contains("storage.pvc.storageClassName"), e.getMessage());

        List<JsonNode> objects = render(t -> t.set("storage.type", "pvc").set("storage.pvc.storageClassName", "nfs"));
        assertValid(objects);
        JsonNode claim = the(objects, "PersistentVolumeClaim").path("spec");
        assertEquals("nfs", claim.path("storageClassName").asText());
        assertEquals(List.of("ReadWriteMany"), texts(claim.path("accessModes")));
        JsonNode spec = the(objects, "FlinkDeployment").path("spec");
        assertEquals("file:///flink-data/cmt-cmt-stream/checkpoints",
                spec.path("flinkConfiguration").path("execution.checkpointing.dir").asText());
        assertTrue(mountPaths(spec.path("podTemplate").path("spec").path("containers").get(0)).contains("/flink-data"));

        List<JsonNode> existing = render(t -> t.set("storage.type", "pvc").set("storage.pvc.existingClaim", "state"));
        assertFalse(kinds(existing).contains("PersistentVolumeClaim"));
        JsonNode volumes = the(existing, "FlinkDeployment").path("spec").path("podTemplate").path("spec").path("volumes");
        assertTrue(volumes.findValuesAsText("claimName").contains("state"), volumes::toString);
    }

    @Test
    void aNewConfigFileChangesTheSpecSoTheOperatorUpgradesThroughASavepoint() {
        List<JsonNode> before = render(t -> t);
        List<JsonNode> again = render(t -> t);
        List<JsonNode> after = render(t -> t.set("config.cmt\\.query\\.default-top-k", "5"));
        JsonNode specBefore = the(before, "FlinkDeployment").path("spec");
        JsonNode specAfter = the(after, "FlinkDeployment").path("spec");
        // The value reaches only the config file, a ConfigMap mounted with subPath (never refreshed in a pod)...
        assertFalse(the(before, "ConfigMap").equals(the(after, "ConfigMap")));
        assertEquals(specBefore.path("flinkConfiguration"), specAfter.path("flinkConfiguration"));
        // ...and still changes the FlinkDeployment's spec, which is what the operator reacts to.
        String checksum = specBefore.path("podTemplate").path("metadata").path("annotations")
                .path("checksum/config").asText();
        assertTrue(checksum.matches("[0-9a-f]{64}"), checksum);
        assertFalse(checksum.equals(specAfter.path("podTemplate").path("metadata").path("annotations")
                .path("checksum/config").asText()));
        // An upgrade with the same values changes nothing, so it restarts nothing.
        assertEquals(specBefore, the(again, "FlinkDeployment").path("spec"));
        // The operator applies a spec change by stopping the job with a savepoint and starting it from there.
        assertEquals("savepoint", specBefore.path("job").path("upgradeMode").asText());
        assertFalse(specBefore.path("flinkConfiguration").path("execution.checkpointing.savepoint-dir").asText().isEmpty());
    }

    @Test
    void aMisspeltOrUnknownValueFailsAgainstTheSchemaNamingIt() {
        for (String typo : List.of("gpu.enable", "storge.type", "taskManager.memory.modelNative")) {
            Exception e = assertThrows(Exception.class, () -> render(t -> t.set(typo, "true")), typo);
            String last = typo.substring(typo.lastIndexOf('.') + 1);
            String first = typo.substring(0, typo.indexOf('.'));
            assertTrue(e.getMessage().contains(typo.contains("storge") ? first : last), e.getMessage());
        }
        Exception e = assertThrows(Exception.class, () -> render(t -> t.set("job.upgradeMode", "savepoints")));
        assertTrue(e.getMessage().contains("upgradeMode"), e.getMessage());
    }

    @Test
    void theSchemaDeclaresExactlyTheKeysOfValuesYaml() throws Exception {
        JsonNode schema = Manifests.YAML.readTree(CHART.resolve("values.schema.json").toFile());
        JsonNode values = Manifests.YAML.readTree(CHART.resolve("values.yaml").toFile());
        List<String> missing = new ArrayList<>();
        declaredButAbsent(schema, schema, values, "", missing);
        assertTrue(missing.isEmpty(), () -> "declared in values.schema.json, absent from values.yaml: " + missing);
    }

    @Test
    void podsMeetTheRestrictedPodSecurityStandard() {
        for (Path values : List.of(DEFAULTS, GPU_S3_SASL)) {
            JsonNode spec = the(render(t -> t.withValuesFile(values)), "FlinkDeployment").path("spec");
            List<String> errors = new ArrayList<>();
            for (String role : List.of("", "jobManager", "taskManager")) {
                JsonNode template = role.isEmpty() ? spec.path("podTemplate") : spec.path(role).path("podTemplate");
                if (!template.isMissingNode()) {
                    errors.addAll(PodSecurity.restrictedErrors(template.path("spec"), values.getFileName() + " "
                            + (role.isEmpty() ? "podTemplate" : role + ".podTemplate")));
                }
            }
            assertTrue(errors.isEmpty(), () -> String.join("\n", errors));
        }
        // The check does find a pod that fails: the same chart without its container securityContext.
        JsonNode bare = the(render(t -> t.set("containerSecurityContext", "null")), "FlinkDeployment")
                .path("spec").path("podTemplate").path("spec");
        List<String> errors = PodSecurity.restrictedErrors(bare, "bare");
        assertTrue(errors.stream().anyMatch(e -> e.contains("allowPrivilegeEscalation")), errors::toString);
        assertTrue(errors.stream().anyMatch(e -> e.contains("drop ALL")), errors::toString);
    }

    @Test
    void jarSubmissionThroughTheRestApiIsOffUnlessAsked() {
        JsonNode conf = the(render(t -> t), "FlinkDeployment").path("spec").path("flinkConfiguration");
        assertEquals("false", conf.path("web.submit.enable").asText());
        JsonNode asked = the(render(t -> t.set("flinkConfiguration.web\\.submit\\.enable", "true")),
                "FlinkDeployment").path("spec").path("flinkConfiguration");
        assertEquals("true", asked.path("web.submit.enable").asText());
    }

    @Test
    void taskManagerMemoryReservesTheModelsNativeMemoryBesideAHeap() {
        // Resolved by Flink's own memory model, as the task manager does at start (the operator turns
        // taskManager.resource.memory into taskmanager.memory.process.size).
        TaskExecutorProcessSpec cpu = taskManagerMemory(render(t -> t));
        assertEquals(MemorySize.parse("1536m"), cpu.getTaskOffHeapSize());
        assertTrue(cpu.getJvmOverheadSize().compareTo(MemorySize.parse("768m")) >= 0, cpu::toString);
        assertTrue(cpu.getTaskHeapSize().compareTo(MemorySize.parse("1536m")) > 0, cpu::toString);
        TaskExecutorProcessSpec gpu = taskManagerMemory(render(t -> t.withValuesFile(GPU_S3_SASL)));
        assertEquals(MemorySize.parse("2560m"), gpu.getTaskOffHeapSize());
        assertTrue(gpu.getTaskHeapSize().compareTo(MemorySize.parse("1536m")) > 0, gpu::toString);
    }

    // ---- helpers ----

    /** Renders the chart with the defaults (and the required bucket), then {@code options}. */
    private static List<JsonNode> render(UnaryOperator<TemplateCommand> options) {
        String out = options.apply(new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE)
                .withValuesFile(DEFAULTS)).call();
        return Manifests.parseAll(out);
    }

    private static TaskExecutorProcessSpec taskManagerMemory(List<JsonNode> objects) {
        JsonNode spec = the(objects, "FlinkDeployment").path("spec");
        Configuration conf = new Configuration();
        spec.path("flinkConfiguration").fields().forEachRemaining(e -> conf.setString(e.getKey(), e.getValue().asText()));
        conf.set(TaskManagerOptions.TOTAL_PROCESS_MEMORY,
                MemorySize.parse(spec.path("taskManager").path("resource").path("memory").asText()));
        return TaskExecutorProcessUtils.processSpecFromConfig(conf);
    }

    /** A copy of the chart whose values.yaml is its own with {@code overrides} merged in. */
    private Path chartWithValues(Path overrides) throws Exception {
        Path copy = tmp.resolve("chart");
        try (var files = Files.walk(CHART)) {
            for (Path from : files.toList()) {
                Path to = copy.resolve(CHART.relativize(from).toString());
                if (Files.isDirectory(from)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(from, to);
                }
            }
        }
        ObjectNode values = (ObjectNode) Manifests.YAML.readTree(CHART.resolve("values.yaml").toFile());
        Manifests.YAML.readerForUpdating(values).readValue(overrides.toFile());
        Manifests.YAML.writeValue(copy.resolve("values.yaml").toFile(), values);
        return copy;
    }

    /** Keys of closed objects in the schema that values.yaml lacks. */
    private static void declaredButAbsent(JsonNode root, JsonNode schema, JsonNode values, String path,
                                          List<String> missing) {
        JsonNode resolved = schema.has("$ref")
                ? root.at(schema.path("$ref").asText().substring(1)) : schema;
        if (!resolved.path("additionalProperties").isBoolean()) {
            return;
        }
        resolved.path("properties").fields().forEachRemaining(e -> {
            String key = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
            if (key.equals("global") || key.endsWith("seccompProfile.localhostProfile")) {
                return;
            }
            if (!values.has(e.getKey())) {
                if (!isKubernetesPassThrough(path)) {
                    missing.add(key);
                }
            } else if (values.get(e.getKey()).isObject()) {
                declaredButAbsent(root, e.getValue(), values.get(e.getKey()), key, missing);
            }
        });
    }

    /** Kubernetes' own types, declared in full by the schema but set only in part by values.yaml. */
    private static boolean isKubernetesPassThrough(String path) {
        return path.startsWith("podSecurityContext") || path.startsWith("containerSecurityContext");
    }

    private static void assertValid(List<JsonNode> objects) {
        List<String> errors = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (JsonNode o : objects) {
            errors.addAll(Manifests.envelopeErrors(o));
            String id = o.path("kind").asText() + "/" + o.path("metadata").path("name").asText();
            if (!seen.add(id)) {
                errors.add(id + ": rendered twice");
            }
            switch (o.path("kind").asText()) {
                case "FlinkDeployment" -> {
                    assertEquals("flink.apache.org/v1beta1", o.path("apiVersion").asText());
                    errors.addAll(Manifests.schemaErrors(o.path("spec"), flinkDeploymentSpecSchema(), id + " spec"));
                    errors.addAll(flinkDeploymentErrors(o, objects));
                }
                case "ConfigMap" -> o.path("data").fields().forEachRemaining(e -> {
                    if (!e.getValue().isTextual()) {
                        errors.add(id + ": data." + e.getKey() + " is not a string");
                    }
                });
                case "Service" -> o.path("spec").path("ports").forEach(p -> {
                    if (!p.path("port").isInt() || p.path("port").asInt() < 1 || p.path("port").asInt() > 65535) {
                        errors.add(id + ": bad port " + p);
                    }
                    if (!Manifests.isDns1123Label(p.path("name").asText())) {
                        errors.add(id + ": port name is not a DNS-1123 label " + p);
                    }
                });
                case "PersistentVolumeClaim" -> {
                    o.path("spec").path("accessModes").forEach(m -> {
                        if (!Set.of("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
                                .contains(m.asText())) {
                            errors.add(id + ": bad access mode " + m);
                        }
                    });
                    if (!o.path("spec").path("resources").path("requests").path("storage").asText()
                            .matches("\\d+(\\.\\d+)?([KMGTPE]i?)?")) {
                        errors.add(id + ": bad storage request");
                    }
                }
                case "ServiceMonitor" -> {
                    assertEquals("monitoring.coreos.com/v1", o.path("apiVersion").asText());
                    o.path("spec").path("endpoints").forEach(ep -> {
                        if (!ep.path("interval").asText().matches("(\\d+(ms|s|m|h))+")) {
                            errors.add(id + ": bad scrape interval " + ep);
                        }
                    });
                }
                default -> errors.add(id + ": unexpected kind");
            }
        }
        assertTrue(errors.isEmpty(), () -> String.join("\n", errors));
    }

    /**
     * The spec schema of the operator's FlinkDeployment CRD. Maven Central serves the operator's API jar only at
     * 1.10.0, whose flinkVersion enum ends at v1_20; operator 1.13.0 added v2_0, v2_1 and v2_2 (the first to run
     * Flink 2.2, see docs/KUBERNETES.md), so those values join the enum here. Everything else the chart renders
     * must still be valid under the 1.10 schema, which later operators only extend.
     */
    private static JsonNode flinkDeploymentSpecSchema() {
        JsonNode spec = Manifests.crdSchema(FLINK_DEPLOYMENT_CRD, "v1beta1").path("properties").path("spec").deepCopy();
        ArrayNode versions = (ArrayNode) spec.path("properties").path("flinkVersion").path("enum");
        assertTrue(versions.toString().contains("v1_20") && !versions.toString().contains("v2_"), versions::toString);
        versions.add("v2_0").add("v2_1").add("v2_2");
        return spec;
    }

    /** What the CRD schema cannot say: mounts have volumes, referenced ConfigMaps/claims are rendered or given. */
    private static List<String> flinkDeploymentErrors(JsonNode fd, List<JsonNode> objects) {
        List<String> errors = new ArrayList<>();
        String name = fd.path("metadata").path("name").asText();
        if (name.length() > 45 || !Manifests.isDns1123Label(name)) {
            errors.add(name + ": Flink's cluster-id must be a DNS-1123 label of at most 45 characters");
        }
        JsonNode pod = fd.path("spec").path("podTemplate").path("spec");
        Set<String> volumes = new HashSet<>();
        pod.path("volumes").forEach(v -> volumes.add(v.path("name").asText()));
        pod.path("containers").forEach(c -> c.path("volumeMounts").forEach(m -> {
            if (!volumes.contains(m.path("name").asText())) {
                errors.add(name + ": volumeMount " + m.path("name").asText() + " has no volume");
            }
        }));
        Set<String> rendered = objects.stream()
                .map(o -> o.path("kind").asText() + "/" + o.path("metadata").path("name").asText())
                .collect(Collectors.toSet());
        pod.path("volumes").forEach(v -> {
            String cm = v.path("configMap").path("name").asText("");
            if (!cm.isEmpty() && !rendered.contains("ConfigMap/" + cm)) {
                errors.add(name + ": volume " + v.path("name").asText() + " uses ConfigMap " + cm + ", not rendered");
            }
        });
        fd.path("spec").path("flinkConfiguration").fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                errors.add(name + ": flinkConfiguration." + e.getKey() + " is not a string");
            }
        });
        return errors;
    }

    private Configuration jobConfig(List<JsonNode> objects) throws Exception {
        JsonNode cm = objects.stream().filter(o -> "ConfigMap".equals(o.path("kind").asText())
                && o.path("data").has("cmt-stream.properties")).findFirst().orElseThrow();
        Path file = Files.writeString(tmp.resolve("cmt-stream-" + System.nanoTime() + ".properties"),
                cm.path("data").path("cmt-stream.properties").asText());
        return JobConfig.fromArgs(new String[] {"--config", file.toString()});
    }

    private static JsonNode the(List<JsonNode> objects, String kind) {
        List<JsonNode> found = objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
        assertEquals(1, found.size(), "objects of kind " + kind);
        return found.get(0);
    }

    private static Set<String> kinds(List<JsonNode> objects) {
        return objects.stream().map(o -> o.path("kind").asText()).collect(Collectors.toSet());
    }

    private static List<String> mountPaths(JsonNode container) {
        return texts(container.path("volumeMounts"), "mountPath");
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static List<String> texts(JsonNode array, String field) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.path(field).asText()));
        return out;
    }
}
