package io.cmtstream.app;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.description.BlockElement;
import org.apache.flink.configuration.description.Description;
import org.apache.flink.configuration.description.TextElement;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UnmatchedArgsBinding;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The job's configuration on a command line, shared by every entry point that runs the job (a picocli mixin,
 * completed by {@link Cli}): {@code --config FILE} (a properties file), then every job option of
 * {@link CmtStreamOptions} as {@code --cmt.key VALUE} (listed by {@code --help} with its default and description),
 * and any other dotted key ({@code --parallelism.default 4}, {@code --cmt.kafka.properties.security.protocol
 * SASL_SSL}) passed through as a Flink or Kafka setting. Flags override the file; {@link JobConfig} validates the
 * result, so an unknown {@code cmt.*} key or a bad value fails parsing with the key's name.
 *
 * <p>Not thread-safe; one instance per parse.
 */
public final class JobArgs {
    @Option(names = "--config", paramLabel = "FILE",
            description = "Java properties file of job options (and Flink keys); flags override it.")
    Path config;

    private final Map<String, String> flags = new LinkedHashMap<>();
    private final List<String> passThrough = new ArrayList<>();

    /** Adds every job option and the pass-through of other dotted keys to {@code spec}. */
    void register(CommandSpec spec) {
        for (ConfigOption<?> option : CmtStreamOptions.all()) {
            String key = option.key();
            spec.addOption(OptionSpec.builder("--" + key)
                    .paramLabel("VALUE")
                    .type(String.class)
                    .description(text(option.description())
                            + (option.hasDefaultValue() ? " (default: " + shown(option.defaultValue()) + ")" : ""))
                    .setter(new CommandLine.Model.ISetter() {
                        @Override
                        public <T> T set(T value) {
                            // picocli resets every option to its initial value (none) before it parses.
                            if (value == null) {
                                flags.remove(key);
                            } else {
                                flags.put(key, (String) value);
                            }
                            return null;
                        }
                    })
                    .build());
        }
        spec.addUnmatchedArgsBinding(UnmatchedArgsBinding.forStringArrayConsumer(new CommandLine.Model.ISetter() {
            @Override
            public <T> T set(T value) {
                passThrough.clear();
                if (value != null) {
                    passThrough.addAll(List.of((String[]) value));
                }
                return null;
            }
        }));
    }

    private static String shown(Object value) {
        return value instanceof Duration d ? TimeUtils.formatWithHighestUnit(d) : String.valueOf(value);
    }

    /** A description's text (the job's options are plain sentences). */
    private static String text(Description description) {
        StringBuilder out = new StringBuilder();
        for (BlockElement block : description.getBlocks()) {
            if (block instanceof TextElement text) {
                out.append(text.getFormat());
            }
        }
        return out.toString();
    }

    /**
     * The settings: the file's, then the flags (pass-through keys included), in the order given.
     *
     * @throws IllegalArgumentException for an argument that is not a {@code --dotted.key value} pair, an unknown
     *     {@code cmt.*} key or an invalid value, naming it
     */
    public Map<String, String> settings() {
        Map<String, String> all = new LinkedHashMap<>();
        if (config != null) {
            all.putAll(JobConfig.readFile(config));
        }
        all.putAll(flags);
        for (int i = 0; i < passThrough.size(); i++) {
            String arg = passThrough.get(i);
            String name;
            String value;
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 2) {
                name = arg.substring(2, equals);
                value = arg.substring(equals + 1);
            } else if (arg.startsWith("--") && i + 1 < passThrough.size()) {
                name = arg.substring(2);
                value = passThrough.get(++i);
            } else {
                throw new IllegalArgumentException("unknown argument '" + arg + "' (see --help)");
            }
            if (!name.contains(".")) {
                throw new IllegalArgumentException("unknown option '--" + name + "' (see --help)");
            }
            all.put(name, value);
        }
        JobConfig.fromMap(all);
        return all;
    }

    /** The validated configuration of {@link #settings()}. */
    public Configuration configuration() {
        return JobConfig.fromMap(settings());
    }
}
