//! Pure layout geometry: where each tile goes on the output frame, for Mux's three layouts.
//!
//! No GStreamer here, so every rule is unit-tested: the grid for 1 to 10 tiles, the large tile
//! a screen share gets, the single full frame of active-speaker, and how a picture of another
//! aspect ratio fills its tile (letterboxed for gallery, cropped for crop).

use std::str::FromStr;

/// Mux draws at most this many participants; later ones are not shown.
pub const MAX_TILES: usize = 10;

/// A rectangle on the output frame, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn center(&self) -> (u32, u32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// The layouts of a Mux broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Gallery,
    ActiveSpeaker,
    Crop,
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gallery" => Ok(Self::Gallery),
            "active-speaker" => Ok(Self::ActiveSpeaker),
            "crop" => Ok(Self::Crop),
            other => Err(format!(
                "unknown layout {other:?} (gallery, active-speaker or crop)"
            )),
        }
    }
}

impl Layout {
    /// Whether pictures fill their tile by cropping (else they are letterboxed).
    pub fn crops(self) -> bool {
        self == Self::Crop
    }
}

/// Parses `WxH` (both even, 16 to 4096: what x264 and the muxers accept).
pub fn parse_resolution(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("resolution {s:?} is not WxH"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=4096).contains(n) && n % 2 == 0)
            .ok_or_else(|| format!("resolution {s:?}: {v:?} is not an even number of 16 to 4096"))
    };
    Ok((parse(w)?, parse(h)?))
}

/// Space between tiles: 8 px at 720p, scaled with the frame.
fn gap(height: u32) -> u32 {
    (height / 90).max(2)
}

/// The largest 16:9 rectangle inside `w` x `h`.
fn tile_16_9(w: u32, h: u32) -> (u32, u32) {
    let tw = w.min(h * 16 / 9);
    (tw, tw * 9 / 16)
}

/// Grid shape for `n` tiles: columns grow first, as Mux's gallery (2 side by side, 4 as 2x2,
/// 5-6 as 3x2, 7-9 as 3x3, 10 as 4x3).
fn grid_shape(n: usize) -> (u32, u32) {
    let n = n as u32;
    let mut cols = 1;
    while cols * cols < n {
        cols += 1;
    }
    let rows = n.div_ceil(cols);
    (cols, rows)
}

/// Equal 16:9 tiles for `n` participants in the area `area`, the grid centered and a short last
/// row centered too.
fn grid_in(n: usize, area: Rect) -> Vec<Rect> {
    if n == 0 {
        return Vec::new();
    }
    let n = n.min(MAX_TILES);
    let (cols, rows) = grid_shape(n);
    let g = gap(area.h.max(area.w * 9 / 16));
    let cell_w = (area.w.saturating_sub(g * (cols + 1))) / cols;
    let cell_h = (area.h.saturating_sub(g * (rows + 1))) / rows;
    let (tw, th) = tile_16_9(cell_w, cell_h);
    let grid_h = rows * th + (rows - 1) * g;
    let top = area.y + (area.h - grid_h) / 2;
    let mut tiles = Vec::with_capacity(n);
    for row in 0..rows {
        let in_row = (n as u32 - row * cols).min(cols);
        let row_w = in_row * tw + (in_row - 1) * g;
        let left = area.x + (area.w - row_w) / 2;
        for col in 0..in_row {
            tiles.push(Rect {
                x: left + col * (tw + g),
                y: top + row * (th + g),
                w: tw,
                h: th,
            });
        }
    }
    tiles
}

/// The gallery grid for `n` tiles on a `width` x `height` frame (at most [`MAX_TILES`]).
pub fn gallery(n: usize, width: u32, height: u32) -> Vec<Rect> {
    grid_in(
        n,
        Rect {
            x: 0,
            y: 0,
            w: width,
            h: height,
        },
    )
}

/// A screen share with `others` camera tiles: the share takes the left three quarters (the
/// whole frame when alone), the cameras a column on the right.
pub fn with_screenshare(others: usize, width: u32, height: u32) -> (Rect, Vec<Rect>) {
    let full = Rect {
        x: 0,
        y: 0,
        w: width,
        h: height,
    };
    let others = others.min(MAX_TILES - 1);
    if others == 0 {
        return (full, Vec::new());
    }
    let g = gap(height);
    let share_w = width * 3 / 4;
    let share = Rect {
        x: 0,
        y: 0,
        w: share_w,
        h: height,
    };
    let col_w = width - share_w - g;
    let n = others as u32;
    let (tw, th) = tile_16_9(col_w.saturating_sub(g), (height - g * (n + 1)) / n);
    let col_h = n * th + (n - 1) * g;
    let top = (height - col_h) / 2;
    let left = share_w + g + (col_w - tw) / 2;
    let column = (0..n)
        .map(|i| Rect {
            x: left,
            y: top + i * (th + g),
            w: tw,
            h: th,
        })
        .collect();
    (share, column)
}

/// What a tile shows, as far as geometry cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileKind {
    pub screenshare: bool,
}

/// Where each of `tiles` goes (None: not shown) under `layout`. `focus` is the index of the
/// active speaker's tile for active-speaker (a screen share wins over it, as the subject of
/// the meeting); gallery and crop give the first screen share the large tile.
pub fn arrange(
    layout: Layout,
    tiles: &[TileKind],
    focus: Option<usize>,
    width: u32,
    height: u32,
) -> Vec<Option<Rect>> {
    let mut out = vec![None; tiles.len()];
    let share = tiles.iter().position(|t| t.screenshare);
    let full = Rect {
        x: 0,
        y: 0,
        w: width,
        h: height,
    };
    match layout {
        Layout::ActiveSpeaker => {
            let shown = share
                .or(focus.filter(|&i| i < tiles.len()))
                .or(if tiles.is_empty() { None } else { Some(0) });
            if let Some(i) = shown {
                out[i] = Some(full);
            }
        }
        Layout::Gallery | Layout::Crop => match share {
            Some(s) => {
                let others: Vec<usize> = (0..tiles.len()).filter(|&i| i != s).collect();
                let (large, column) = with_screenshare(others.len(), width, height);
                out[s] = Some(large);
                for (i, rect) in others.into_iter().zip(column) {
                    out[i] = Some(rect);
                }
            }
            None => {
                for (slot, rect) in out.iter_mut().zip(gallery(tiles.len(), width, height)) {
                    *slot = Some(rect);
                }
            }
        },
    }
    out
}

/// How tall a camera's picture (16:9, as both SDKs capture) must be to fill `tile` without
/// being scaled up: letterboxed, it is drawn no taller than the tile nor wider than it;
/// cropped, it must cover both. The compositor asks the SFU for the smallest simulcast layer
/// of this height, so it decodes no more than it draws.
pub fn wanted_height(layout: Layout, tile: Rect) -> u32 {
    let from_width = tile.w * 9 / 16;
    if layout.crops() {
        tile.h.max(from_width)
    } else {
        tile.h.min(from_width)
    }
}

/// The part of a `src_w` x `src_h` tile a letterboxed picture covers (centered, aspect kept).
pub fn fit(src_w: u32, src_h: u32, tile: Rect) -> Rect {
    if src_w == 0 || src_h == 0 {
        return tile;
    }
    let (w, h) = if u64::from(tile.w) * u64::from(src_h) <= u64::from(tile.h) * u64::from(src_w) {
        (
            tile.w,
            (u64::from(tile.w) * u64::from(src_h) / u64::from(src_w)) as u32,
        )
    } else {
        (
            (u64::from(tile.h) * u64::from(src_w) / u64::from(src_h)) as u32,
            tile.h,
        )
    };
    Rect {
        x: tile.x + (tile.w - w) / 2,
        y: tile.y + (tile.h - h) / 2,
        w,
        h,
    }
}

/// The part of a `src_w` x `src_h` picture kept when it fills `tile` by cropping (centered).
pub fn crop(src_w: u32, src_h: u32, tile: Rect) -> Rect {
    if tile.w == 0 || tile.h == 0 {
        return Rect {
            x: 0,
            y: 0,
            w: src_w,
            h: src_h,
        };
    }
    let (w, h) = if u64::from(src_w) * u64::from(tile.h) > u64::from(src_h) * u64::from(tile.w) {
        (
            (u64::from(src_h) * u64::from(tile.w) / u64::from(tile.h)) as u32,
            src_h,
        )
    } else {
        (
            src_w,
            (u64::from(src_w) * u64::from(tile.h) / u64::from(tile.w)) as u32,
        )
    };
    Rect {
        x: (src_w - w) / 2,
        y: (src_h - h) / 2,
        w,
        h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOLUTIONS: [(u32, u32); 6] = [
        (1920, 1080),
        (1280, 720),
        (1080, 1920),
        (720, 1280),
        (1024, 576),
        (576, 1024),
    ];

    fn overlaps(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    fn check_tiles(tiles: &[Rect], w: u32, h: u32) {
        for (i, a) in tiles.iter().enumerate() {
            assert!(a.w > 0 && a.h > 0, "{a:?} empty");
            assert!(a.x + a.w <= w && a.y + a.h <= h, "{a:?} outside {w}x{h}");
            for b in &tiles[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn gallery_fits_one_to_ten_tiles_at_every_resolution() {
        for (w, h) in RESOLUTIONS {
            for n in 1..=MAX_TILES {
                let tiles = gallery(n, w, h);
                assert_eq!(tiles.len(), n);
                check_tiles(&tiles, w, h);
                // Equal tiles, 16:9 within a pixel.
                for t in &tiles {
                    assert_eq!((t.w, t.h), (tiles[0].w, tiles[0].h));
                    assert!(
                        (i64::from(t.w) * 9 - i64::from(t.h) * 16).abs() <= 16,
                        "{t:?}"
                    );
                }
            }
            assert_eq!(gallery(14, w, h).len(), MAX_TILES, "capped at ten");
            assert!(gallery(0, w, h).is_empty());
        }
    }

    #[test]
    fn gallery_shapes_and_sizes() {
        assert_eq!(grid_shape(1), (1, 1));
        assert_eq!(grid_shape(2), (2, 1));
        assert_eq!(grid_shape(4), (2, 2));
        assert_eq!(grid_shape(5), (3, 2));
        assert_eq!(grid_shape(9), (3, 3));
        assert_eq!(grid_shape(10), (4, 3));
        // One participant nearly fills a 720p frame; two sit side by side, centered vertically.
        let one = gallery(1, 1280, 720);
        let (cx, cy) = one[0].center();
        assert!(
            one[0].w >= 1240 && cx.abs_diff(640) <= 1 && cy.abs_diff(360) <= 1,
            "{one:?}"
        );
        let two = gallery(2, 1280, 720);
        assert_eq!(two[0].y, two[1].y);
        assert!(two[0].x < two[1].x);
        assert!(two[0].center().1.abs_diff(360) <= 1);
        // Three: two on top, the last one centered below.
        let three = gallery(3, 1280, 720);
        assert!(three[2].center().0.abs_diff(640) <= 1);
        assert!(three[2].y > three[0].y);
    }

    #[test]
    fn screenshare_gets_the_large_tile() {
        for (w, h) in RESOLUTIONS {
            for others in 0..MAX_TILES {
                let (share, column) = with_screenshare(others, w, h);
                assert_eq!(column.len(), others);
                let mut all = column.clone();
                all.push(share);
                check_tiles(&all, w, h);
                for c in &column {
                    assert!(c.w * c.h < share.w * share.h);
                }
            }
        }
        let tiles = [
            TileKind { screenshare: false },
            TileKind { screenshare: true },
            TileKind { screenshare: false },
        ];
        let placed = arrange(Layout::Gallery, &tiles, None, 1280, 720);
        assert_eq!(placed[1], Some(with_screenshare(2, 1280, 720).0));
        assert!(placed.iter().all(Option::is_some));
    }

    #[test]
    fn active_speaker_shows_one_tile_full_frame() {
        let tiles = [TileKind { screenshare: false }; 4];
        let full = Rect {
            x: 0,
            y: 0,
            w: 1920,
            h: 1080,
        };
        let placed = arrange(Layout::ActiveSpeaker, &tiles, Some(2), 1920, 1080);
        assert_eq!(placed, vec![None, None, Some(full), None]);
        // No speaker yet (or a stale index): the first participant.
        let placed = arrange(Layout::ActiveSpeaker, &tiles, Some(9), 1920, 1080);
        assert_eq!(placed[0], Some(full));
        assert!(arrange(Layout::ActiveSpeaker, &[], None, 1920, 1080).is_empty());
        // A screen share wins over the speaker.
        let mut tiles = tiles;
        tiles[3].screenshare = true;
        let placed = arrange(Layout::ActiveSpeaker, &tiles, Some(1), 1920, 1080);
        assert_eq!(placed.iter().flatten().count(), 1);
        assert_eq!(placed[3], Some(full));
    }

    #[test]
    fn crop_fills_and_fit_letterboxes() {
        let tile = Rect {
            x: 100,
            y: 50,
            w: 640,
            h: 360,
        };
        // A 4:3 camera in a 16:9 tile: fit leaves bars left and right, crop cuts top and bottom.
        let f = fit(640, 480, tile);
        assert_eq!((f.w, f.h), (480, 360));
        assert_eq!((f.x, f.y), (180, 50));
        let c = crop(640, 480, tile);
        assert_eq!((c.w, c.h), (640, 360));
        assert_eq!((c.x, c.y), (0, 60));
        // A portrait phone: fit is pillarboxed, crop keeps the middle band.
        let f = fit(720, 1280, tile);
        assert_eq!((f.w, f.h), (202, 360));
        let c = crop(720, 1280, tile);
        assert_eq!((c.w, c.h), (720, 405));
        assert_eq!(c.y, (1280 - 405) / 2);
        // Same aspect: both are the identity.
        assert_eq!(fit(1280, 720, tile), tile);
        assert_eq!(
            crop(1280, 720, tile),
            Rect {
                x: 0,
                y: 0,
                w: 1280,
                h: 720
            }
        );
        assert_eq!(fit(0, 0, tile), tile, "unknown size: the whole tile");
    }

    #[test]
    fn parses_cli_values() {
        assert_eq!(parse_resolution("1280x720"), Ok((1280, 720)));
        assert_eq!(parse_resolution("1080X1920"), Ok((1080, 1920)));
        assert!(parse_resolution("1280").is_err());
        assert!(parse_resolution("1281x720").is_err());
        assert!(parse_resolution("0x0").is_err());
        assert!(parse_resolution("axb").is_err());
        assert_eq!("crop".parse(), Ok(Layout::Crop));
        assert!("grid".parse::<Layout>().is_err());
    }

    #[test]
    fn wanted_height_fills_the_tile_without_upscaling() {
        let wide = Rect {
            x: 0,
            y: 0,
            w: 640,
            h: 200,
        };
        let tall = Rect {
            x: 0,
            y: 0,
            w: 200,
            h: 640,
        };
        // Letterboxed: as tall as the picture is drawn.
        assert_eq!(wanted_height(Layout::Gallery, wide), 200);
        assert_eq!(wanted_height(Layout::Gallery, tall), 112);
        // Cropped: tall enough to cover the tile both ways.
        assert_eq!(wanted_height(Layout::Crop, wide), 360);
        assert_eq!(wanted_height(Layout::Crop, tall), 640);
        // Four tiles at 720p: a 360p layer suffices.
        let quarter = gallery(4, 1280, 720)[0];
        assert!(wanted_height(Layout::Gallery, quarter) <= 360);
        assert!(wanted_height(Layout::Gallery, quarter) > 180);
    }
}
