package dev.normkit;

/**
 * A native library (oneDNN or normkit's kernels) answered with a non-success status. It carries the status code
 * and which library gave it. Inputs are validated in Java first, so this signals an internal problem (or memory
 * exhaustion), never a bad argument that Java should have caught.
 */
public final class NativeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String library;
  private final int status;

  public NativeException(String library, int status, String message) {
    super(library + " status " + status + ": " + message);
    this.library = library;
    this.status = status;
  }

  /** "oneDNN" or "normkit". */
  public String library() {
    return library;
  }

  public int status() {
    return status;
  }
}
