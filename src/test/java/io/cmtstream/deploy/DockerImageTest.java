package io.cmtstream.deploy;

import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.app.JobConfig;
import io.cmtstream.app.StartupChecks;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docker/Dockerfile checked without a container engine: pinned base images, a non-root runtime, and paths that agree
 * with what the pom builds, what the Helm chart runs and what the job's own start-up checks accept.
 */
class DockerImageTest {
    static final Path DOCKERFILE = Path.of("docker/Dockerfile");
    static final Path IMAGE_CONFIG = Path.of("docker/cmt-stream.properties");
    private static final String JAR_IN_IMAGE = "/opt/flink/usrlib/cmt-stream.jar";

    /** One instruction, continuation lines joined. */
    record Instruction(String keyword, String args) {}

    /** A build stage: its FROM line and its instructions. */
    record Stage(String image, String name, List<Instruction> instructions) {
        List<String> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).map(Instruction::args).toList();
        }
    }

    @Test
    void everyBaseImageIsPinnedToAnExactVersion() throws Exception {
        Set<String> stageNames = new HashSet<>();
        for (Stage stage : stages()) {
            if (!stageNames.contains(stage.image()) && !stage.image().startsWith("runtime-${")) {
                Matcher m = Pattern.compile("([a-z0-9./-]+):([A-Za-z0-9._-]+)").matcher(stage.image());
                assertTrue(m.matches(), "base image without a tag: " + stage.image());
                String tag = m.group(2);
                assertFalse(tag.startsWith("latest"), stage.image());
                assertTrue(tag.matches("\\d+\\.\\d+(\\.\\d+)?.*"), "not an exact version: " + stage.image());
            }
            if (stage.name() != null) {
                stageNames.add(stage.name());
            }
        }
        assertEquals("flink:" + pomProperty("flink.version") + "-scala_2.12-java17", stage("runtime-cpu").image(),
                "the runtime is the official Flink image of the version the job is built against");
        assertTrue(stage("build").image().matches("maven:3\\.9\\.\\d+-eclipse-temurin-17"), stage("build").image());
    }

    @Test
    void theImageRunsAsTheFlinkUserNotRoot() throws Exception {
        List<String> users = stage("runtime-cpu").all("USER");
        assertEquals(List.of("flink"), users);
        for (Stage stage : stages()) {
            if (stage.name() == null || stage.name().startsWith("runtime")) {
                assertFalse(stage.all("USER").stream().anyMatch(u -> u.equals("root") || u.startsWith("0")),
                        "a runtime stage switches back to root");
            }
        }
    }

    @Test
    void theFlavourBuildArgumentChoosesTheFinalStage() throws Exception {
        List<Stage> stages = stages();
        assertEquals("runtime-${PYTORCH_FLAVOR}", stages.get(stages.size() - 1).image());
        assertTrue(Files.readString(DOCKERFILE).contains("\nARG PYTORCH_FLAVOR=cpu\n\n"),
                "a global PYTORCH_FLAVOR argument defaulting to cpu");
        assertNotNull(stage("runtime-cu128"));
        assertEquals("runtime-cpu", stage("runtime-cu128").image());
        // The CUDA flavour builds the jar without the CPU native library and points DJL at libtorch.
        assertTrue(stage("build").all("RUN").get(0).contains("-Pcuda"));
        assertTrue(Files.readString(Path.of("pom.xml")).contains("<id>cuda</id>"), "pom.xml has a cuda profile");
        String env = String.join(" ", stage("runtime-cu128").all("ENV"));
        assertTrue(env.contains("PYTORCH_VERSION=" + pomProperty("pytorch.version")), env);
        assertTrue(env.contains("PYTORCH_FLAVOR=cu128"), env);
        assertTrue(env.contains("PYTORCH_LIBRARY_PATH=/opt/libtorch/lib"), env);
        assertTrue(stage("runtime-cu128").all("COPY").get(0).endsWith("/opt/libtorch/lib/"));
        assertTrue(stage("libtorch").all("ARG").get(0).contains("libtorch-cxx11-abi-shared-with-deps-"
                + pomProperty("pytorch.version") + "%2Bcu128.zip"), "libtorch of the version DJL's JNI is built for");
    }

    @Test
    void theJarIsTheShadedJobJarAtThePathTheChartRuns() throws Exception {
        Document pom = pom();
        assertEquals("cmt-stream", text(pom.getDocumentElement(), "artifactId"));
        assertTrue(Files.readString(Path.of("pom.xml")).contains("<shadedClassifierName>job</shadedClassifierName>"));
        assertTrue(stage("build").all("RUN").get(0).contains("mvn -B -q package -DskipTests"));
        assertTrue(stage("build").all("RUN").get(0).contains("cp target/cmt-stream-*-job.jar /src/cmt-stream.jar"));
        assertTrue(stage("runtime-cpu").all("COPY").contains(
                "--from=build --chown=flink:flink /src/cmt-stream.jar " + JAR_IN_IMAGE));
        String chart = Files.readString(HelmChartTest.CHART.resolve("templates/flinkdeployment.yaml"));
        assertTrue(chart.contains("jarURI: local://" + JAR_IN_IMAGE), "the chart runs the jar the image carries");
    }

    @Test
    void everyCopiedSourceIsInTheBuildContext() throws Exception {
        List<String> allowed = Files.readAllLines(Path.of("docker/Dockerfile.dockerignore")).stream()
                .filter(l -> l.startsWith("!")).map(l -> l.substring(1).replaceAll("/$", "")).toList();
        for (Stage stage : stages()) {
            for (String copy : stage.all("COPY")) {
                if (copy.startsWith("--from=")) {
                    continue;
                }
                String[] parts = copy.replaceAll("--chown=\\S+\\s+", "").split("\\s+");
                for (int i = 0; i < parts.length - 1; i++) {
                    String source = parts[i].replaceAll("/$", "");
                    assertTrue(allowed.contains(source) || source.equals("./") || source.equals("pom.xml"),
                            "COPY " + source + " is excluded by docker/Dockerfile.dockerignore");
                }
            }
        }
    }

    @Test
    void theImagesConfigFilePassesTheJobsValidation() throws Exception {
        Configuration conf = JobConfig.fromArgs(new String[] {"--config", IMAGE_CONFIG.toString()});
        assertEquals(imageModelDir(), conf.get(CmtStreamOptions.MODEL_DIR));
        assertTrue(stage("runtime-cpu").all("COPY").contains(
                "--chown=flink:flink docker/cmt-stream.properties /opt/cmt-stream/conf/cmt-stream.properties"));
        // The default command passes that file; "--" keeps Flink's entry point from reading --config as --configDir.
        String cmd = stage("runtime-cpu").all("CMD").get(0);
        assertTrue(cmd.contains("\"io.cmtstream.app.ClusterMain\", \"--\", \"--config\", "
                + "\"/opt/cmt-stream/conf/cmt-stream.properties\""), cmd);
    }

    @Test
    void theBundledModelPassesTheStartupChecksAtTheImagesModelPath() throws Exception {
        // The image copies the model directory the job uses by default to the path its config file names.
        String source = CmtStreamOptions.MODEL_DIR.defaultValue();
        assertTrue(stage("runtime-cpu").all("COPY").contains(
                "--chown=flink:flink " + source + "/ " + imageModelDir() + "/"));
        Path model = Path.of(source);
        Assumptions.assumeTrue(Files.isRegularFile(model.resolve("model.json")),
                source + " is not in the working tree yet");
        Configuration conf = JobConfig.fromArgs(new String[] {
                "--config", IMAGE_CONFIG.toString(), "--" + CmtStreamOptions.MODEL_DIR.key(), model.toString()});
        StartupChecks.modelLoads(conf);
    }

    @Test
    void djlRunsOfflineInEveryJvmOfTheImage() throws Exception {
        String env = String.join(" ", stage("runtime-cpu").all("ENV"));
        assertTrue(env.contains("DJL_OFFLINE=true"), env);
        assertTrue(env.contains("JDK_JAVA_OPTIONS=--add-modules=jdk.incubator.vector"), env);
        String configure = stage("runtime-cpu").all("RUN").get(0);
        for (String process : List.of("jobmanager", "taskmanager", "client")) {
            // One word per value: config-parser-utils.sh splits its arguments at spaces.
            assertTrue(configure.contains("\"-Denv.java.opts." + process + "=-Dai.djl.offline=true\""), configure);
        }
    }

    // ---- shared with the other deployment tests ----

    /** cmt.model.dir of the image's config file. */
    static String imageModelDir() {
        return JobConfig.readFile(IMAGE_CONFIG).get(CmtStreamOptions.MODEL_DIR.key());
    }

    static String pomProperty(String name) throws Exception {
        NodeList props = pom().getElementsByTagName(name);
        assertTrue(props.getLength() > 0, "pom.xml has no property " + name);
        return props.item(0).getTextContent().trim();
    }

    // ---- parsing ----

    static List<Stage> stages() throws IOException {
        List<Stage> stages = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String raw : Files.readAllLines(DOCKERFILE)) {
            String trimmed = raw.strip();
            if (line.isEmpty() && (trimmed.isEmpty() || trimmed.startsWith("#"))) {
                continue;
            }
            if (!line.isEmpty() && trimmed.startsWith("#")) {
                continue;
            }
            if (trimmed.endsWith("\\")) {
                line.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            line.append(trimmed);
            String[] kv = line.toString().split("\\s+", 2);
            line.setLength(0);
            Instruction instruction = new Instruction(kv[0].toUpperCase(), kv.length > 1 ? kv[1].strip() : "");
            if (instruction.keyword().equals("FROM")) {
                String[] from = instruction.args().split("\\s+");
                String name = from.length >= 3 && from[1].equalsIgnoreCase("AS") ? from[2] : null;
                stages.add(new Stage(from[0], name, new ArrayList<>()));
            } else if (!stages.isEmpty()) {
                stages.get(stages.size() - 1).instructions().add(instruction);
            }
        }
        return stages;
    }

    static Stage stage(String name) throws IOException {
        return stages().stream().filter(s -> name.equals(s.name())).findFirst()
                .orElseThrow(() -> new AssertionError("no stage " + name));
    }

    private static Document pom() throws Exception {
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile());
    }

    private static String text(Element parent, String child) {
        for (org.w3c.dom.Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(child)) {
                return e.getTextContent().trim();
            }
        }
        return null;
    }
}
