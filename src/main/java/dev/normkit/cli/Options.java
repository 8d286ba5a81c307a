package dev.normkit.cli;

import dev.normkit.backend.ThreadPolicy;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options of the form {@code --name value} or {@code --name=value}, each at most once. Every problem
 * (an unknown option, a missing value, a value of the wrong kind) is an {@link IllegalArgumentException} naming the
 * option and the value.
 */
final class Options {
  private final Map<String, String> values;

  private Options(Map<String, String> values) {
    this.values = values;
  }

  /**
   * Parses {@code args}; {@code known} are the options allowed here, {@code others} those that exist elsewhere (for
   * a clearer message), and {@code context} names the command in messages.
   */
  static Options parse(List<String> args, Set<String> known, Set<String> others, String context) {
    Map<String, String> values = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (!arg.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + arg + "'");
      int eq = arg.indexOf('=');
      String name = eq < 0 ? arg : arg.substring(0, eq);
      if (!known.contains(name)) {
        throw new IllegalArgumentException(others.contains(name)
            ? "option " + name + " does not apply to " + context
            : "unknown option " + name + " for " + context);
      }
      String value;
      if (eq >= 0) {
        value = arg.substring(eq + 1);
      } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("--")) {
        value = args.get(++i);
      } else {
        throw new IllegalArgumentException("option " + name + " needs a value");
      }
      if (values.put(name, value) != null) throw new IllegalArgumentException("option " + name + " given twice");
    }
    return new Options(values);
  }

  /**
   * Throws unless every option given is one of {@code allowed}, for a mode of a command that takes fewer options
   * than the command: "option NAME does not apply to CONTEXT", as {@link #parse} says for other commands' options.
   */
  void requireOnly(Set<String> allowed, String context) {
    for (String name : values.keySet()) {
      if (!allowed.contains(name)) {
        throw new IllegalArgumentException("option " + name + " does not apply to " + context);
      }
    }
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  /** The value, or null when the option is absent. */
  String get(String name) {
    return values.get(name);
  }

  String required(String name) {
    String v = values.get(name);
    if (v == null) throw new IllegalArgumentException("option " + name + " is required");
    return v;
  }

  double number(String name, double absent) {
    return parsedNumber(name, Double::parseDouble, "a number", absent);
  }

  /** A long (any sign), e.g. a seed. */
  long integer(String name, long absent) {
    return parsedNumber(name, Long::parseLong, "an integer", absent);
  }

  /** A positive int. */
  int positiveInt(String name, int absent) {
    if (!has(name)) return absent;
    int n = parsedNumber(name, Integer::parseInt, "an integer", absent);
    if (n < 1) throw new IllegalArgumentException(name + " must be a positive integer, got " + n);
    return n;
  }

  /** The option's value (trimmed) parsed by {@code parser}, or {@code absent}; "NAME 'V' is not WHAT" if it fails. */
  private <T> T parsedNumber(String name, java.util.function.Function<String, T> parser, String what, T absent) {
    String v = values.get(name);
    if (v == null) return absent;
    try {
      return parser.apply(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " '" + v + "' is not " + what);
    }
  }

  /**
   * A comma-separated list, each item (trimmed) parsed by {@code parser}, or {@code absent} when the option is not
   * given. A list naming no value, or with an empty item, is refused: {@code ",".split(",")} is empty, and
   * {@code train --norm ,} trained nothing while {@code bench --threads ,} failed inside the run.
   */
  <T> List<T> list(String name, java.util.function.Function<String, T> parser, List<T> absent) {
    String text = values.get(name);
    if (text == null) return absent;
    if (text.replace(",", "").isBlank()) throw new IllegalArgumentException(name + " '" + text + "' names no value");
    List<T> list = new java.util.ArrayList<>();
    for (String part : text.split(",", -1)) {
      if (part.isBlank()) throw new IllegalArgumentException(name + " '" + text + "' has an empty item");
      list.add(parser.apply(part.trim()));
    }
    return list;
  }

  /** A comma-separated list of positive ints, e.g. {@code --threads 1,2}. */
  List<Integer> positiveInts(String name, List<Integer> absent) {
    return list(name, part -> {
      try {
        int n = Integer.parseInt(part);
        if (n < 1) throw new NumberFormatException();
        return n;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(name + " '" + get(name) + "' is not a list of positive integers");
      }
    }, absent);
  }

  /** A comma-separated list of thread counts, each 1 to {@link ThreadPolicy#MAX_THREADS}. */
  List<Integer> threadCounts(String name, List<Integer> absent) {
    List<Integer> counts = positiveInts(name, absent);
    for (int n : counts) checkThreadCount(name, n);
    return counts;
  }

  /** One thread count, 1 to {@link ThreadPolicy#MAX_THREADS}. */
  int threadCount(String name, int absent) {
    int n = positiveInt(name, absent);
    checkThreadCount(name, n);
    return n;
  }

  private static void checkThreadCount(String name, int n) {
    if (n > ThreadPolicy.MAX_THREADS) {
      throw new IllegalArgumentException(
          name + " " + n + " is more than the most threads normkit runs with, " + ThreadPolicy.MAX_THREADS);
    }
  }

  /** The path given to option {@code name} (which must be present): a non-empty, valid path. */
  Path path(String name) {
    String v = required(name);
    if (v.isEmpty()) throw new IllegalArgumentException(name + " needs a file name");
    try {
      return Path.of(v);
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException(name + " '" + v + "' is not a valid path");
    }
  }

  /**
   * The output file given to option {@code name}, or {@code absent} when the option is not given, checked before any
   * work is done: not a directory, in an existing writable directory. (A sweep that ran for minutes and then could
   * not write its JSON into a missing directory ended in an internal error.) A name ending in "/" (or "/." or
   * "/..") names a directory even where none exists: Path.of drops the trailing "/", and z.npy/ was written as z.npy.
   */
  Path outputPath(String name, Path absent) {
    if (!has(name)) {
      if (absent != null) checkOutputFile(name, absent);
      return absent;
    }
    Path p = path(name);
    String v = get(name), last = p.getFileName() == null ? "" : p.getFileName().toString();
    if (v.endsWith("/") || v.endsWith(p.getFileSystem().getSeparator()) || last.equals(".") || last.equals("..")) {
      throw new IllegalArgumentException(name + " '" + v + "' names a directory, not a file");
    }
    checkOutputFile(name, p);
    return p;
  }

  /**
   * Throws IllegalArgumentException unless {@code p} can be created or replaced as a file by option {@code name}.
   * The file system is asked about the name itself too, so that one it refuses (longer than 255 bytes, say) is named
   * here rather than when the outputs are moved into place, where an earlier output could already be written.
   */
  private static void checkOutputFile(String name, Path p) {
    if (Files.isDirectory(p)) throw new IllegalArgumentException(name + " " + p + ": is a directory");
    Path dir = p.toAbsolutePath().normalize().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IllegalArgumentException(name + " " + p + ": directory " + dir + " does not exist");
    }
    if (!Files.isWritable(dir)) {
      throw new IllegalArgumentException(name + " " + p + ": directory " + dir + " is not writable");
    }
    try {
      Files.readAttributes(p, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      // the usual case: the file is created by the run
    } catch (IOException e) {
      String reason = e instanceof FileSystemException f ? f.getReason() : null;
      throw new IllegalArgumentException(name + " " + p + ": " + (reason != null ? reason : "cannot be accessed"));
    }
  }

  /** Throws IllegalArgumentException if two of the given outputs (option, path; nulls skipped) name the same file. */
  static void checkDistinct(String nameA, Path a, String nameB, Path b) {
    if (a != null && b != null && a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
      throw new IllegalArgumentException(nameA + " and " + nameB + " name the same file " + a);
    }
  }

  /** The value parsed by {@code parser} (whose message names what is wrong), prefixed with the option's name. */
  <T> T parsed(String name, java.util.function.Function<String, T> parser, T absent) {
    String v = values.get(name);
    if (v == null) return absent;
    try {
      return parser.apply(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage());
    }
  }
}
