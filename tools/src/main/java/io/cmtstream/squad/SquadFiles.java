package io.cmtstream.squad;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The command-line options naming the SQuAD data and its by-article split, shared by every command that reads them. */
public final class SquadFiles {
    @Option(names = "--squad", paramLabel = "FILE", defaultValue = "data/squad/squad-v1.1-dev-open.json",
            description = "SQuAD v1.1 JSON file (default: ${DEFAULT-VALUE}).")
    public Path squad;
    @Option(names = "--split", paramLabel = "FILE", defaultValue = "data/squad/split.json",
            description = "The by-article split (default: ${DEFAULT-VALUE}).")
    public Path split;
}
