// Where the content goes in the programme picture: with a page on screen, the speaker's picture
// moves to a box on the left and the page fills the right, below the maket band and clear of the
// lower third. One source for the re-encoder's filter (FeedEncoder) and the panel renderer
// (ContentPanel, content-panel.mjs).

/** A rectangle in pixels of the output frame. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The speaker's box and the page's box in a frame of width × height. */
export interface ContentLayout {
  width: number;
  height: number;
  speaker: Box;
  page: Box;
}

/** The layout, designed for 1280 × 720 and scaled (even sizes: the encoder's chroma is halved). */
export function contentLayout(width: number, height: number): ContentLayout {
  const u = height / 720;
  const even = (n: number): number => 2 * Math.round((n * u) / 2);
  return {
    width,
    height,
    // 16:9 under the maket band (150 lines), above the lower third (from 588).
    speaker: { x: even(32), y: even(168), w: even(528), h: even(298) },
    page: { x: even(584), y: even(158), w: width - even(584) - even(24), h: height - even(158) - even(10) },
  };
}
