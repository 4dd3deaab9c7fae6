package io.cmtstream.app;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Entry point on a Flink cluster (the job jar's main class): connects to an existing Kafka and runs until
 * cancelled. Configuration: {@code --config cmt-stream.properties} and/or {@code --cmt.key value} flags
 * ({@code --help} lists them). Never exits the JVM: on a cluster the job manager runs this main.
 */
@Command(name = "ClusterMain",
        description = "Runs cmt-stream on a Flink cluster against an existing Kafka, until cancelled.")
public final class ClusterMain {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterMain.class);

    @Mixin
    JobArgs job = new JobArgs();

    public static void main(String[] args) throws Exception {
        ClusterMain main = new ClusterMain();
        if (Cli.parse(main, args)) {
            main.run();
        }
    }

    private void run() throws Exception {
        Configuration conf = job.configuration();
        StartupChecks.modelLoads(conf);
        StartupChecks.kafkaTransactionsFit(conf);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        CmtStreamJob.build(env, conf);
        LOG.info("Submitting {} reading {} and {} from {}", conf.get(CmtStreamOptions.JOB_NAME),
                conf.get(CmtStreamOptions.DOCUMENTS_TOPIC), conf.get(CmtStreamOptions.QUERIES_TOPIC),
                conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
        env.execute(conf.get(CmtStreamOptions.JOB_NAME));
    }
}
