package dev.normkit.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * The command-line tool: {@code normkit run OP [options]} runs one op on {@code .npy} files, {@code normkit demo}
 * compares the native backend with the Java reference on the seed's example tensor.
 *
 * <p>Exit codes: 0 success; 2 invalid input (with exactly one line {@code error: ...} on stderr, and no output file
 * written); 1 an unexpected internal error (one {@code error:} line too).
 */
public final class Main {
  static final String USAGE =
      String.join("\n",
          "normkit: batch, layer, group and instance normalization and weight standardization",
          "",
          "usage: java -jar normkit.jar run OP [options]    one op on .npy files (normkit run --help)",
          "       java -jar normkit.jar demo [options]      native vs Java reference on (32, 64, 14, 14)",
          "       java -jar normkit.jar bench [options]     benchmarks against a streaming probe",
          "       java -jar normkit.jar train [options]     BN vs GN+WS on Fashion-MNIST (normkit train --help)",
          "       java -jar normkit.jar --help",
          "",
          RunCommand.USAGE,
          DemoCommand.USAGE,
          BenchCommand.USAGE,
          TrainCommand.USAGE);

  private Main() {}

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    System.out.flush();
    System.exit(code);
  }

  /** Runs the tool with {@code args}; returns the exit code instead of exiting. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      if (args.length == 0) {
        err.print(USAGE);
        return 2;
      }
      List<String> rest = Arrays.asList(args).subList(1, args.length);
      boolean help = rest.contains("--help") || rest.contains("-h");
      switch (args[0]) {
        case "--help":
        case "-h":
        case "help":
          out.print(USAGE);
          return 0;
        case "run":
          if (help) out.print(RunCommand.USAGE);
          return help ? 0 : RunCommand.run(rest);
        case "demo":
          if (help) out.print(DemoCommand.USAGE);
          return help ? 0 : DemoCommand.run(rest, out, err);
        case "bench":
          if (help) out.print(BenchCommand.USAGE);
          return help ? 0 : BenchCommand.run(rest, out);
        case "train":
          if (help) out.print(TrainCommand.USAGE);
          return help ? 0 : TrainCommand.run(rest, out, err);
        default:
          throw new IllegalArgumentException("unknown command '" + args[0] + "' (expected run, demo, bench or train; see --help)");
      }
    } catch (IllegalArgumentException e) {
      err.println("error: " + oneLine(e.getMessage()));
      return 2;
    } catch (Exception | Error e) {
      err.println("error: internal error: " + oneLine(e.toString()));
      return 1;
    }
  }

  private static String oneLine(String message) {
    return message == null ? "(no message)" : message.replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
