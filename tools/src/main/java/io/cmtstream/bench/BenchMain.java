package io.cmtstream.bench;

import io.cmtstream.app.Cli;
import io.cmtstream.app.JobArgs;
import io.cmtstream.app.JobConfig;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.memory.Memory;
import io.cmtstream.model.ModelConfig;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadSplit;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark command: model throughput outside Flink, the job's ingest rate through Kafka, a Kafka-to-Kafka
 * passthrough floor, query latency against bank size, and bytes per memory. Writes report.md and
 * latency-vs-bank-size.png to {@code --out}.
 *
 * <pre>
 * mvn -B -q test-compile exec:exec@bench -Dcmt.args="--sizes 1000,10000,100000"
 * </pre>
 * Not a test: machine-dependent figures, no assertions. {@code BenchSmokeITCase} runs it at toy sizes in CI.
 */
public final class BenchMain {
    private BenchMain() {}

    /** The command line; {@code --help} lists it. */
    @Command(name = "BenchMain", sortOptions = false,
            description = "Benchmarks: the model alone, the job's ingest rate, a Kafka passthrough, matching alone, "
                    + "query latency against bank size; writes report.md and plots to --out.")
    static final class Args {
        @Option(names = "--model", paramLabel = "DIR", defaultValue = "models/cmt-bge-small-squad",
                description = "Model directory (default: ${DEFAULT-VALUE}).")
        Path model;
        @Option(names = "--parts", paramLabel = "PART", split = ",", defaultValue = "model,ingest,match,latency",
                description = "Sections to run: model, ingest, match, latency, model-beside-job, flood "
                        + "(default: ${DEFAULT-VALUE}).")
        List<String> parts;
        @Option(names = "--texts", paramLabel = "N", defaultValue = "0",
                description = "Texts the model alone compresses per batch size (0: every test paragraph).")
        int texts;
        @Option(names = "--batches", paramLabel = "B", split = ",", defaultValue = "1,8,32",
                description = "Batch sizes of the model alone (default: ${DEFAULT-VALUE}).")
        int[] batches;
        @Option(names = "--ingest-docs", paramLabel = "N", defaultValue = "1000",
                description = "Documents of the ingest run (default: ${DEFAULT-VALUE}).")
        int ingestDocs;
        @Option(names = "--passthrough-records", paramLabel = "N", defaultValue = "20000",
                description = "Records of the Kafka-to-Kafka passthrough (default: ${DEFAULT-VALUE}).")
        int passthroughRecords;
        @Option(names = "--sizes", paramLabel = "N", split = ",", defaultValue = "1000,10000,100000",
                description = "Bank sizes of the latency runs (default: ${DEFAULT-VALUE}).")
        List<Integer> sizes;
        @Option(names = "--queries", paramLabel = "N", defaultValue = "40",
                description = "Measured queries per bank size (default: ${DEFAULT-VALUE}).")
        int queries;
        @Option(names = "--flood-queries", paramLabel = "N", defaultValue = "50000",
                description = "Queries of the flood, published while the watermark is held (default: "
                        + "${DEFAULT-VALUE}).")
        int floodQueries;
        @Option(names = "--match-sizes", paramLabel = "N", split = ",", defaultValue = "100000,1000000",
                description = "Key counts of matching alone (default: ${DEFAULT-VALUE}).")
        int[] matchSizes;
        @Option(names = "--idle-timeout-ms", paramLabel = "MS", defaultValue = "20",
                description = "Consistency window of the latency runs (cmt.watermark.idle-timeout; "
                        + "default: ${DEFAULT-VALUE}).")
        int idleTimeoutMs;
        @Option(names = "--out", paramLabel = "DIR", defaultValue = "target/bench",
                description = "Where report.md and the plots go (default: ${DEFAULT-VALUE}).")
        Path out;
        @Option(names = "--job", paramLabel = "KEY=VALUE", split = ",",
                description = "Job settings of the benchmark's jobs, e.g. --job cmt.model.batch-size=8 "
                        + "(the same as --cmt.model.batch-size 8).")
        Map<String, String> job = new LinkedHashMap<>();
        @Mixin
        JobArgs jobArgs = new JobArgs();
    }

    public static void main(String[] args) throws Exception {
        try {
            System.exit(run(args, System.out) ? 0 : 1);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }

    static boolean run(String[] args, PrintStream out) throws Exception {
        Args flags = new Args();
        if (!Cli.parse(flags, args)) {
            return true;
        }
        List<String> parts = flags.parts;
        Duration idleTimeout = Duration.ofMillis(flags.idleTimeoutMs);
        Path modelDir = flags.model;
        ModelConfig model = ModelConfig.read(modelDir);
        SquadDataset test = SquadDataset.load(Path.of("data/squad/squad-v1.1-dev-open.json"))
                .select(SquadSplit.load(Path.of("data/squad/split.json")), "test");
        List<String> paragraphs = test.paragraphs().stream().map(SquadDataset.Paragraph::context).toList();
        List<String> questions = test.questions().stream().map(SquadDataset.Question::question).toList();

        StringBuilder md = new StringBuilder();
        md.append("# cmt-stream benchmarks\n\n");
        md.append(String.format("- date %s; machine: %d cores, %d MiB max heap, %s %s; model %s@%s%n",
                LocalDate.now(), Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20, System.getProperty("os.arch"),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), model.name(),
                model.version()));
        md.append("- command: `mvn -B -q test-compile exec:exec@bench -Dcmt.args=\"")
                .append(String.join(" ", args)).append("\"`\n\n");

        Map<String, String> jobOptions = new LinkedHashMap<>(flags.jobArgs.settings());
        jobOptions.putAll(JobConfig.fromMap(flags.job).toMap());
        JobBench jobs = new JobBench(modelDir, jobOptions, out);
        if (parts.contains("model") || parts.contains("ingest")) {
            modelAndIngest(flags, modelDir, paragraphs, jobs, md, out);
        }
        if (parts.contains("match")) {
            List<Memory> memories = jobs.realMemories(paragraphs);
            List<MatchKey> queryKeys = jobs.queryKeys(questions.subList(0, Math.min(64, questions.size())));
            md.append(MatchBench.toMarkdown(MatchBench.measure(memories, flags.matchSizes, new int[] {1, 2}, queryKeys,
                    out)));
        }
        if (parts.contains("latency")) {
            latency(flags, paragraphs, questions, idleTimeout, jobs, md);
        }
        if (parts.contains("flood")) {
            Map<String, String> flood = new LinkedHashMap<>(jobOptions);
            flood.put("cmt.model.dir", modelDir.toString());
            md.append(FloodBench.run(flood, flags.floodQueries, questions, out).toMarkdown());
        }
        Path dir = flags.out;
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("report.md"), md.toString(), StandardCharsets.UTF_8);
        out.println(md);
        out.println("Report written to " + dir.resolve("report.md").toAbsolutePath());
        return true;
    }

    private static void modelAndIngest(Args flags, Path modelDir, List<String> paragraphs, JobBench jobs,
                                       StringBuilder md, PrintStream out) throws Exception {
        int[] batches = flags.batches;
        // By default the model alone compresses every test paragraph once per batch size: the documents the
        // ingest run cycles through, so that the two rates are of the same work.
        int texts = flags.texts > 0 ? flags.texts : paragraphs.size();
        ModelThroughput.Result throughput = ModelThroughput.measure(modelDir, paragraphs, texts, batches, out);
        md.append(throughput.toMarkdown());

        ModelThroughput.Result beside = flags.parts.contains("model-beside-job")
                ? jobs.modelBesideIdleJob(paragraphs, texts, batches) : null;
        JobBench.IngestResult ingest = jobs.ingest(paragraphs, flags.ingestDocs);
        JobBench.PassthroughResult passthrough = jobs.passthrough(flags.passthroughRecords);
        double bestModelRate = throughput.bestDocumentsPerSecond();
        md.append("\n## Ingest through the job\n\n");
        md.append(String.format("| measure | value |%n|---|---:|%n"
                        + "| documents through Kafka -> compress -> RocksDB bank | %d |%n"
                        + "| job ingest rate (documents/s) | %.2f |%n"
                        + "| model alone, best batch (documents/s) | %.2f |%n"
                        + "| framework efficiency (job / model alone; target >= 0.8) | %.2f |%n"
                        + "| Kafka-to-Kafka passthrough job, same broker (records/s) | %.0f |%n"
                        + "| FLOP floor of the model (documents/s at the measured GEMM rate) | %.2f |%n"
                        + "| job ingest / FLOP floor (target >= 0.5, i.e. within 2x) | %.2f |%n",
                ingest.documents(), ingest.documentsPerSecond(), bestModelRate,
                ingest.documentsPerSecond() / bestModelRate, passthrough.recordsPerSecond(),
                throughput.flopFloorDocumentsPerSecond(),
                ingest.documentsPerSecond() / throughput.flopFloorDocumentsPerSecond()));
        if (beside != null) {
            md.append(String.format("| model alone beside the job idling in the same JVM, best batch (documents/s) "
                    + "| %.2f |%n", beside.bestDocumentsPerSecond()));
        }
        md.append("\nIngest rate: documents published at once, then one query; the consistency guarantee holds its "
                + "answer back until every earlier document is in the bank, so documents / (time to that answer) "
                + "is a lower bound of the job's rate. Before the clock starts, "
                + JobBench.WARM_UP_DOCUMENTS + " documents and a query have gone through the job and the process "
                + "is quiet (CPU and JIT compiler); the model alone compresses the same test paragraphs.\n");
    }

    private static void latency(Args flags, List<String> paragraphs, List<String> questions, Duration idleTimeout,
                                JobBench jobs, StringBuilder md) throws Exception {
        List<Integer> sizes = flags.sizes;
        List<JobBench.LatencyResult> latencies = new ArrayList<>();
        for (int size : sizes) {
            latencies.add(jobs.latencyAt(size, paragraphs, questions, flags.queries, idleTimeout));
        }
        md.append("\n## Query latency against bank size\n\n");
        md.append("Bank filled with real memories of the test split's paragraphs, replicated to the size, entering "
                + "the bank through the job's own memory-bank operator (`CmtStreamJob.build(..., preloaded)`); "
                + "compressing 1M documents on 2 cores would take days. Queries are real test questions, one at a "
                + "time every 100 ms after 10 unmeasured warm-up queries and once the job process is quiet again "
                + "(RocksDB compaction after the load), AT_LEAST_ONCE delivery; latency is askedAt to the answer "
                + "being produced. "
                + "Consistency window on the quiet documents stream (`cmt.watermark.idle-timeout`): "
                + idleTimeout.toMillis() + " ms. Stage columns are the answer's own timings (question encoding, "
                + "matching, reading).\n\n");
        md.append("| memories | queries | p50 ms | p99 ms | max ms | encode p50 ms | match p50 ms | match p99 ms | read p50 ms "
                + "| read p99 ms | RocksDB bytes/memory | heap bytes/memory |\n"
                + "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (JobBench.LatencyResult r : latencies) {
            md.append(String.format("| %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %.0f |%n",
                    r.memories(), r.queries(), r.p50(), r.p99(), r.max(), r.encodeP50(), r.matchP50(), r.matchP99(),
                    r.readP50(), r.readP99(),
                    r.rocksDbBytesPerMemory() < 0 ? "n/a" : String.format("%.0f", r.rocksDbBytesPerMemory()),
                    r.heapBytesPerMemory()));
        }
        Path dir = flags.out;
        Files.createDirectories(dir);
        LatencyChart.write(latencies, dir.resolve("latency-vs-bank-size.png"));
        md.append("\n![latency against bank size](latency-vs-bank-size.png)\n");
    }
}
