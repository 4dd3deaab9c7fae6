package io.cmtstream.app;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits {@code --name value} arguments into a command's own flags (those with a default) and the rest, which
 * are job options passed on to {@link JobConfig}.
 */
public final class Flags {
    private final Map<String, String> own;
    private final List<String> rest;

    private Flags(Map<String, String> own, List<String> rest) {
        this.own = own;
        this.rest = rest;
    }

    public static Flags parse(String[] args, Map<String, String> defaults) {
        Map<String, String> own = new LinkedHashMap<>(defaults);
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected '--name value' pairs, got '" + args[i] + "'; flags: "
                        + defaults.keySet());
            }
            String name = args[i].substring(2);
            if (own.containsKey(name)) {
                own.put(name, args[i + 1]);
            } else if (name.startsWith("cmt.") || name.contains(".")) {
                rest.add(args[i]);
                rest.add(args[i + 1]);
            } else {
                throw new IllegalArgumentException("unknown flag --" + name + "; flags: " + defaults.keySet()
                        + " and job options --cmt.*");
            }
        }
        return new Flags(own, rest);
    }

    public String get(String name) {
        return own.get(name);
    }

    public int getInt(String name) {
        try {
            return Integer.parseInt(own.get(name));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a whole number, was '" + own.get(name) + "'");
        }
    }

    /** The job options among the arguments, as configuration entries. */
    public Map<String, String> jobOptions() {
        return JobConfig.fromArgs(rest.toArray(new String[0])).toMap();
    }
}
