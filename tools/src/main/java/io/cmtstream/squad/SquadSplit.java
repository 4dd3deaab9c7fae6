package io.cmtstream.squad;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The by-article split of the SQuAD file (data/squad/split.json): split name to article titles.
 *
 * <p>Splitting by article, never by question, keeps every paragraph a test question can be answered from out of
 * training. Invariant: no article is in two splits (loading fails otherwise). Immutable and thread-safe.
 */
public final class SquadSplit {

    private final Map<String, List<String>> titlesBySplit;

    private SquadSplit(Map<String, List<String>> titlesBySplit) {
        this.titlesBySplit = titlesBySplit;
    }

    /** Reads a split file: a JSON object whose array-valued fields are splits; other fields (seed, source) are ignored. */
    public static SquadSplit load(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read split file " + file, e);
        }
        Map<String, List<String>> splits = new LinkedHashMap<>();
        Map<String, String> splitOfTitle = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!field.getValue().isArray()) {
                continue;
            }
            List<String> titles = new ArrayList<>();
            for (JsonNode title : field.getValue()) {
                String previous = splitOfTitle.put(title.asText(), field.getKey());
                if (previous != null) {
                    throw new IllegalArgumentException(
                            file + ": article " + title.asText() + " is in both " + previous + " and " + field.getKey());
                }
                titles.add(title.asText());
            }
            splits.put(field.getKey(), List.copyOf(titles));
        }
        return new SquadSplit(Collections.unmodifiableMap(splits));
    }

    /** The split names, in file order (e.g. test, validation, train). */
    public Set<String> names() {
        return titlesBySplit.keySet();
    }

    /** @throws IllegalArgumentException naming the known splits if there is no such split */
    public List<String> titles(String splitName) {
        List<String> titles = titlesBySplit.get(splitName);
        if (titles == null) {
            throw new IllegalArgumentException("no split '" + splitName + "'; known: " + names());
        }
        return titles;
    }
}
