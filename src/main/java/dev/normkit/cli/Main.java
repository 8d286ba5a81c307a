package dev.normkit.cli;

/** PLACEHOLDER: the command-line tool lands with its helper. */
public final class Main {
  public static void main(String[] args) {
    System.out.println("normkit");
  }
}
