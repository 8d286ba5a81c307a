package dev.normkit.bench;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * What normkit's PNG charts share: a white canvas with antialiased text, a bold title, a row of colour swatches
 * naming the series, one palette, and writing the PNG. {@link RatioPlot} and the training sweep's accuracy plot draw
 * their data on top.
 */
public final class Chart {
  /** Series colours (matplotlib's first three, then more). */
  public static final Color[] PALETTE = {
    new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd)
  };

  private final BufferedImage image;
  private final Graphics2D g;

  /** A width x height canvas with {@code title} at the top left; text in 11-point sans serif afterwards. */
  public Chart(int width, int height, String title) {
    image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    g.drawString(title, 10, 22);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
  }

  /** The graphics to draw the data with. */
  public Graphics2D graphics() {
    return g;
  }

  /** One swatch of {@link #PALETTE}[i] and its label per series, left to right from (x, y); returns the x after. */
  public int legend(int x, int y, List<String> labels, int spacing) {
    for (int i = 0; i < labels.size(); i++) {
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(x, y - 10, 12, 10);
      g.setColor(Color.BLACK);
      g.drawString(labels.get(i), x + 16, y);
      x += spacing;
    }
    return x;
  }

  /** Writes the PNG and releases the graphics. */
  public void write(Path png) throws IOException {
    g.dispose();
    ImageIO.write(image, "png", png.toFile());
  }
}
