package io.cmtstream.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.client.deployment.StandaloneClusterId;
import org.apache.flink.client.program.rest.RestClusterClient;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.util.config.memory.ProcessMemoryUtils;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A standalone Flink session cluster of separate JVM processes on this machine: a JobManager
 * ({@code StandaloneSessionClusterEntrypoint}) and TaskManagers ({@code TaskManagerRunner}), each started with
 * {@code java -cp} on the Flink jars from Maven Central with the job's classes beside them (as the Docker image puts
 * the job jar in usrlib), talked to only through the REST API. A TaskManager can be killed with SIGKILL.
 */
final class ProcessCluster implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path work;
    private final Path confDir;
    private final int restPort;
    private final Process jobManager;
    private final List<Process> taskManagers = new ArrayList<>();
    private final RestClusterClient<StandaloneClusterId> client;
    private final HttpClient http = HttpClient.newHttpClient();

    private ProcessCluster(Path work, Path confDir, int restPort, Process jobManager) throws Exception {
        this.work = work;
        this.confDir = confDir;
        this.restPort = restPort;
        this.jobManager = jobManager;
        Configuration conf = new Configuration();
        conf.set(RestOptions.ADDRESS, "localhost");
        conf.set(RestOptions.PORT, restPort);
        this.client = new RestClusterClient<>(conf, StandaloneClusterId.getInstance());
    }

    /** Starts the JobManager and {@code taskManagers} TaskManagers of one slot each, and waits for them all. */
    static ProcessCluster start(Path work, int taskManagers) throws Exception {
        Path confDir = Files.createDirectories(work.resolve("conf"));
        int restPort = freePort();
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("jobmanager.rpc.address", "localhost");
        conf.put("jobmanager.rpc.port", String.valueOf(freePort()));
        conf.put("jobmanager.bind-host", "localhost");
        conf.put("rest.address", "localhost");
        conf.put("rest.bind-address", "localhost");
        conf.put("rest.port", String.valueOf(restPort));
        conf.put("taskmanager.host", "localhost");
        conf.put("taskmanager.bind-host", "localhost");
        conf.put("taskmanager.numberOfTaskSlots", "1");
        conf.put("taskmanager.memory.process.size", "4g");
        conf.put("jobmanager.memory.process.size", "1g");
        // A SIGKILLed TaskManager is noticed by its lost connections at once; the heartbeat bounds the rest.
        conf.put("heartbeat.interval", "2000");
        conf.put("heartbeat.timeout", "10000");
        conf.put("restart-strategy.type", "fixed-delay");
        conf.put("restart-strategy.fixed-delay.attempts", "1000");
        conf.put("restart-strategy.fixed-delay.delay", "1 s");
        conf.put("state.backend.type", "rocksdb");
        conf.put("execution.checkpointing.dir", work.resolve("checkpoints").toUri().toString());
        conf.put("execution.checkpointing.savepoint-dir", work.resolve("savepoints").toUri().toString());
        StringBuilder yaml = new StringBuilder();
        conf.forEach((k, v) -> yaml.append(k).append(": ").append(v).append('\n'));
        Files.writeString(confDir.resolve("config.yaml"), yaml);

        Process jm = launch(work, "jobmanager", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                confDir, List.of("-Xmx768m"), List.of());
        ProcessCluster cluster = new ProcessCluster(work, confDir, restPort, jm);
        try {
            for (int i = 0; i < taskManagers; i++) {
                cluster.startTaskManager();
            }
            cluster.awaitTaskManagers(taskManagers);
            return cluster;
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * Starts one more TaskManager process, with the JVM options and the resolved memory settings that Flink's
     * taskmanager.sh computes (through BashJavaUtils) from the configuration.
     */
    void startTaskManager() throws IOException {
        Configuration conf = GlobalConfiguration.loadConfiguration(confDir.toString());
        TaskExecutorProcessSpec spec = TaskExecutorProcessUtils.processSpecFromConfig(conf);
        taskManagers.add(launch(work, "taskmanager-" + taskManagers.size(),
                "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", confDir,
                split(ProcessMemoryUtils.generateJvmParametersStr(spec)),
                split(TaskExecutorProcessUtils.generateDynamicConfigsStr(spec))));
    }

    private static List<String> split(String args) {
        return List.of(args.trim().split("\\s+"));
    }

    /** Kills the oldest live TaskManager process with SIGKILL (no shutdown hook runs); its pid. */
    long killTaskManager() throws InterruptedException {
        Process victim = taskManagers.stream().filter(Process::isAlive).findFirst()
                .orElseThrow(() -> new IllegalStateException("no TaskManager alive"));
        victim.destroyForcibly(); // SIGKILL on Linux
        victim.waitFor(30, TimeUnit.SECONDS);
        return victim.pid();
    }

    /** Waits until the JobManager's REST API lists {@code count} registered TaskManagers. */
    void awaitTaskManagers(int count) {
        ReliabilityCluster.await(count + " TaskManagers registered", () -> {
            JsonNode tms = get("/taskmanagers");
            return tms != null && tms.path("taskmanagers").size() == count;
        });
    }

    JobID submit(JobGraph job) throws Exception {
        return client.submitJob(job).get(2, TimeUnit.MINUTES);
    }

    JobStatus status(JobID job) {
        try {
            return client.getJobStatus(job).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            return JobStatus.INITIALIZING;
        }
    }

    /** Completed checkpoints of {@code job} and the id of the one it last restored (-1: none), from REST. */
    long[] checkpoints(JobID job) {
        JsonNode c = get("/jobs/" + job + "/checkpoints");
        if (c == null) {
            return new long[] {-1, -1};
        }
        JsonNode restored = c.path("latest").path("restored");
        return new long[] {c.path("counts").path("completed").asLong(-1),
                restored.isMissingNode() || restored.isNull() ? -1 : restored.path("id").asLong(-1)};
    }

    /** Tasks of {@code job} in state RUNNING, by REST: a job is only whole again when all are. */
    boolean allTasksRunning(JobID job) {
        JsonNode j = get("/jobs/" + job);
        if (j == null) {
            return false;
        }
        for (JsonNode vertex : j.path("vertices")) {
            JsonNode tasks = vertex.path("tasks");
            if (tasks.path("RUNNING").asInt(0) != vertex.path("parallelism").asInt(-1)) {
                return false;
            }
        }
        return j.path("vertices").size() > 0;
    }

    String stopWithSavepoint(JobID job) throws Exception {
        String path = client.stopWithSavepoint(job, false, work.resolve("savepoints").toUri().toString(),
                SavepointFormatType.CANONICAL).get(2, TimeUnit.MINUTES);
        ReliabilityCluster.await("job " + job + " finished", () -> status(job).isGloballyTerminalState());
        return path;
    }

    private JsonNode get(String path) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + restPort + path))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * {@code java -cp} on this JVM's own classpath (the Flink jars from Maven Central and the job's classes) with the
     * JVM options Flink 2 needs on Java 17; output to {@code work/<name>.log}.
     */
    private static Process launch(Path work, String name, String mainClass, Path confDir, List<String> jvmOptions,
                                  List<String> dynamicConfig) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-opens") || arg.startsWith("--add-modules") || arg.startsWith("-Dai.djl")) {
                command.add(arg);
            }
        }
        command.add("-Dlog4j.configurationFile=" + Path.of("src/test/resources/log4j2-test.properties").toAbsolutePath());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass, "--configDir",
                confDir.toString()));
        command.addAll(dynamicConfig);
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(work.resolve(name + ".log").toFile()).start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        try {
            client.close();
        } finally {
            for (Process p : taskManagers) {
                p.destroyForcibly();
            }
            jobManager.destroyForcibly();
            for (Process p : taskManagers) {
                p.waitFor(30, TimeUnit.SECONDS);
            }
            jobManager.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
