package io.cmtstream.app;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

/**
 * The command line of every entry point, on picocli: {@code --help} prints every flag (the command's own, then the
 * job options of {@link JobArgs} where the command has that mixin) and exits 0; a bad argument prints what is wrong
 * and the usage and exits 2; a failed run exits 1 with its stack trace.
 */
public final class Cli {
    private Cli() {}

    /**
     * Runs {@code command} (a picocli {@code @Command} whose {@code call()} returns the exit code) on {@code args}.
     *
     * @return the process's exit code
     */
    public static int execute(Callable<Integer> command, String... args) {
        CommandLine cl = commandLine(command);
        return cl.execute(args);
    }

    /**
     * Parses {@code args} into {@code command} (for entry points that must not exit the JVM, such as the job's main
     * on a Flink cluster, and for callers in tests).
     *
     * @return false when {@code --help} was asked and the usage printed to stdout: there is nothing to run
     * @throws IllegalArgumentException saying what is wrong with the arguments (see {@code --help})
     */
    public static boolean parse(Object command, String... args) {
        CommandLine cl = commandLine(command);
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(e.getMessage() + " (see --help)", e);
        }
        if (cl.isUsageHelpRequested()) {
            cl.usage(System.out);
            return false;
        }
        JobArgs job = jobArgs(cl.getCommandSpec());
        if (job != null) {
            job.settings();
        }
        return true;
    }

    /** The picocli command line of {@code command}, with its job options registered and validated on parse. */
    public static CommandLine commandLine(Object command) {
        CommandLine cl = new CommandLine(command);
        CommandSpec spec = cl.getCommandSpec();
        JobArgs job = jobArgs(spec);
        spec.usageMessage().width(120).sortOptions(false).abbreviateSynopsis(true);
        spec.addOption(CommandLine.Model.OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("Show this help (every flag) and exit.").build());
        if (job != null) {
            job.register(spec);
            cl.setExecutionStrategy(parsed -> {
                // The job's settings are checked before anything starts, so a bad one reads as a usage error.
                try {
                    job.settings();
                } catch (IllegalArgumentException e) {
                    throw new CommandLine.ParameterException(cl, e.getMessage(), e);
                }
                return new CommandLine.RunLast().execute(parsed);
            });
        }
        return cl;
    }

    private static JobArgs jobArgs(CommandSpec spec) {
        return spec.mixins().values().stream()
                .map(CommandSpec::userObject)
                .filter(JobArgs.class::isInstance).map(JobArgs.class::cast)
                .findFirst().orElse(null);
    }
}
