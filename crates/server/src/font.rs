//! Text for the PNG poster: GNU Unifont's bitmap glyphs (8×16 for Latin, 16×16 for
//! Chinese), a subset embedded in the binary (`assets/unifont/`, whose `SOURCE.md`
//! says how it was made and `LICENSE` under which terms), and greedy line breaking
//! that cuts what does not fit with an ellipsis.
//!
//! Nothing here depends on a system font, and no input panics: a character outside
//! the subset is drawn as an empty box of its width.

use std::io::Read as _;
use std::sync::OnceLock;

/// The embedded subset: Unifont's `.hex` lines (`CODEPOINT:BITMAP`), gzip-compressed.
const SUBSET: &[u8] = include_bytes!("../assets/unifont/unifont-subset.hex.gz");

/// The height of every glyph, in pixels before scaling.
pub const GLYPH_HEIGHT: u32 = 16;

/// A bitmap glyph: 16 rows, the leftmost pixel in each row's top bit (an 8-pixel
/// glyph uses the top 8 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Glyph {
    /// 16 pixels wide (a CJK character) rather than 8.
    pub wide: bool,
    /// The rows, top to bottom.
    pub rows: [u16; 16],
}

impl Glyph {
    /// Its width in pixels before scaling: 8 or 16.
    pub fn width(&self) -> u32 {
        if self.wide {
            16
        } else {
            8
        }
    }

    /// Whether the pixel at column `x`, row `y` is ink (false outside the glyph).
    pub fn ink(&self, x: u32, y: u32) -> bool {
        x < self.width()
            && (y as usize) < self.rows.len()
            && self.rows[y as usize] >> (15 - x) & 1 == 1
    }

    /// The box drawn for a character the font lacks: an outline of the glyph cell.
    pub fn missing(wide: bool) -> Glyph {
        let right = if wide { 14 } else { 6 };
        let mut rows = [0u16; 16];
        let edge: u16 = (1..=right).fold(0, |row, x| row | 1 << (15 - x));
        let sides: u16 = 1 << 14 | 1 << (15 - right);
        rows[2] = edge;
        for row in &mut rows[3..13] {
            *row = sides;
        }
        rows[13] = edge;
        Glyph { wide, rows }
    }

    /// Reads one Unifont `.hex` line (`4E2D:` and 32 or 64 hex digits).
    fn parse_line(line: &str) -> Option<(u32, Glyph)> {
        let (code, bitmap) = line.split_once(':')?;
        let code = u32::from_str_radix(code, 16).ok()?;
        let wide = match bitmap.len() {
            32 => false,
            64 => true,
            _ => return None,
        };
        let digits = bitmap.len() / 16;
        let mut rows = [0u16; 16];
        for (i, row) in rows.iter_mut().enumerate() {
            let text = bitmap.get(i * digits..(i + 1) * digits)?;
            let bits = u16::from_str_radix(text, 16).ok()?;
            *row = if wide { bits } else { bits << 8 };
        }
        Some((code, Glyph { wide, rows }))
    }
}

/// A bitmap font: glyphs by code point.
#[derive(Debug, Default)]
pub struct Font {
    /// Sorted by code point.
    glyphs: Vec<(u32, Glyph)>,
    /// Lines that were not glyphs (none in the embedded subset; a test says so).
    malformed: usize,
}

impl Font {
    /// Reads Unifont `.hex` text; lines that are not glyphs are counted and skipped.
    pub fn from_hex(text: &str) -> Font {
        let mut font = Font::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match Glyph::parse_line(line) {
                Some(glyph) => font.glyphs.push(glyph),
                None => font.malformed += 1,
            }
        }
        font.glyphs.sort_by_key(|(code, _)| *code);
        font.glyphs.dedup_by_key(|(code, _)| *code);
        font
    }

    /// The embedded Unifont subset, read once. Should it not decompress, the font
    /// is empty and every character is drawn as a box.
    pub fn embedded() -> &'static Font {
        static FONT: OnceLock<Font> = OnceLock::new();
        FONT.get_or_init(|| {
            let mut text = String::new();
            match flate2::read::GzDecoder::new(SUBSET).read_to_string(&mut text) {
                Ok(_) => Font::from_hex(&text),
                Err(e) => {
                    tracing::error!(error = %e, "the embedded Unifont subset does not decompress");
                    Font::default()
                }
            }
        })
    }

    /// How many glyphs it has.
    pub fn len(&self) -> usize {
        self.glyphs.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.glyphs.is_empty()
    }

    /// How many lines of its source were not glyphs.
    pub fn malformed(&self) -> usize {
        self.malformed
    }

    /// The glyph of `c`, if the font has it.
    pub fn get(&self, c: char) -> Option<Glyph> {
        let code = u32::from(c);
        self.glyphs
            .binary_search_by_key(&code, |(k, _)| *k)
            .ok()
            .map(|i| self.glyphs[i].1)
    }

    /// The glyph of `c`, or a box (as wide as a CJK character from U+1100 on).
    pub fn glyph(&self, c: char) -> Glyph {
        self.get(c)
            .unwrap_or_else(|| Glyph::missing(u32::from(c) >= 0x1100))
    }

    /// `text` broken into at most `max_lines` lines of at most `max_width` pixels
    /// (before scaling). Control characters and runs of white space become one
    /// space; a line breaks before the character that does not fit, or at the last
    /// space when what follows it is a Latin word; text that does not fit in
    /// `max_lines` ends the last line with "…". A glyph wider than `max_width` alone
    /// is left out.
    pub fn wrap(&self, text: &str, max_width: u32, max_lines: usize) -> Wrapped {
        let mut lines: Vec<Vec<(char, Glyph)>> = Vec::new();
        let mut line: Vec<(char, Glyph)> = Vec::new();
        let mut width = 0;
        let mut cut = false;
        for c in normalise(text) {
            if lines.len() == max_lines {
                cut = true;
                break;
            }
            let g = self.glyph(c);
            if g.width() > max_width {
                continue;
            }
            if width + g.width() <= max_width {
                line.push((c, g));
                width += g.width();
                continue;
            }
            // `c` does not fit: break the line.
            if c == ' ' {
                lines.push(std::mem::take(&mut line));
                width = 0;
                continue;
            }
            // A Latin word `c` continues moves to the next line whole.
            let carried = match line.iter().rposition(|(k, _)| *k == ' ') {
                Some(space) if !g.wide && line[space + 1..].iter().all(|(_, g)| !g.wide) => {
                    let rest = line.split_off(space + 1);
                    line.pop();
                    rest
                }
                _ => Vec::new(),
            };
            lines.push(std::mem::replace(&mut line, carried));
            width = line.iter().map(|(_, g)| g.width()).sum();
            if lines.len() == max_lines {
                cut = true;
                break;
            }
            line.push((c, g));
            width += g.width();
        }
        if !line.is_empty() {
            if lines.len() < max_lines {
                lines.push(line);
            } else {
                cut = true;
            }
        }
        if cut {
            if let Some(last) = lines.last_mut() {
                let ellipsis = self.glyph('…');
                let mut width: u32 = last.iter().map(|(_, g)| g.width()).sum();
                while width + ellipsis.width() > max_width
                    || last.last().is_some_and(|(k, _)| *k == ' ')
                {
                    match last.pop() {
                        Some((_, g)) => width -= g.width(),
                        None => break,
                    }
                }
                if width + ellipsis.width() <= max_width {
                    last.push(('…', ellipsis));
                }
            }
        }
        Wrapped {
            lines: lines
                .into_iter()
                .map(|l| l.into_iter().map(|(_, g)| g).collect())
                .collect(),
            cut,
        }
    }
}

/// Text broken into lines by [`Font::wrap`].
#[derive(Clone, Debug, Default)]
pub struct Wrapped {
    /// The lines, each a row of glyphs.
    pub lines: Vec<Vec<Glyph>>,
    /// Whether some of the text did not fit (the last line then ends with "…").
    pub cut: bool,
}

/// Trimmed text with control characters and white space runs as one space.
fn normalise(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut last_space = true;
    let mut chars = text
        .chars()
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .filter(move |&c| {
            let keep = !(c == ' ' && last_space);
            last_space = c == ' ';
            keep
        })
        .collect::<Vec<_>>();
    if chars.last() == Some(&' ') {
        chars.pop();
    }
    chars.into_iter()
}

/// The width of a line of glyphs, in pixels before scaling.
pub fn line_width(line: &[Glyph]) -> u32 {
    line.iter().map(Glyph::width).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(font: &Font, wrapped: &Wrapped) -> Vec<String> {
        let lines = &wrapped.lines;
        // Map glyphs back to the characters of the test's alphabet.
        let alphabet: Vec<char> = "中原区烩面馆老城 abcdefghijklmnopqrstuvwxyz…"
            .chars()
            .collect();
        lines
            .iter()
            .map(|l| {
                l.iter()
                    .map(|g| {
                        alphabet
                            .iter()
                            .copied()
                            .find(|&c| font.glyph(c) == *g)
                            .unwrap_or('?')
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_embedded_subset_reads_whole() {
        let font = Font::embedded();
        assert_eq!(font.malformed(), 0);
        assert_eq!(font.len(), 21_599);
        // ASCII is narrow, hanzi and fullwidth forms wide, the ellipsis there.
        assert!(!font.get('A').unwrap().wide);
        assert!(font.get('郑').unwrap().wide && font.get('鿿').is_some());
        assert!(font.get('，').unwrap().wide);
        assert!(font.get('…').is_some() && font.get('·').is_some());
        // Every glyph of the CJK block is there, and not blank.
        for c in ['一', '州', '龥'] {
            assert!(font.get(c).unwrap().rows.iter().any(|r| *r != 0), "{c}");
        }
        // Outside the subset: a box, never a panic.
        let hangul = font.glyph('한');
        assert_eq!(hangul, Glyph::missing(true));
        assert!(hangul.ink(1, 2) && !hangul.ink(7, 7));
        assert_eq!(font.glyph('\u{1F600}').width(), 16);
        assert_eq!(font.glyph('Ω').width(), 8);
    }

    #[test]
    fn malformed_lines_are_counted_not_fatal() {
        let font = Font::from_hex("0041:0000000018242442427E424242420000\nzz:00\n4E00:12\n");
        assert_eq!((font.len(), font.malformed()), (1, 2));
        assert!(font.get('A').unwrap().ink(3, 4));
    }

    #[test]
    fn lines_break_and_cut_with_an_ellipsis() {
        let font = Font::embedded();
        // Chinese breaks anywhere: 3 wide glyphs a line.
        let got = font.wrap("老城烩面馆中原区", 48, 3);
        assert_eq!(text(font, &got), ["老城烩", "面馆中", "原区"]);
        // Cut after two lines, with an ellipsis that fits.
        let got = font.wrap("老城烩面馆中原区", 48, 2);
        assert_eq!(text(font, &got), ["老城烩", "面馆…"]);
        assert!(got.cut);
        // Latin words move whole to the next line; runs of white space are one.
        let got = font.wrap("  abc   defg\nhij ", 64, 3);
        assert_eq!(text(font, &got), ["abc defg", "hij"]);
        let got = font.wrap("abcde fghij", 64, 3);
        assert_eq!(text(font, &got), ["abcde", "fghij"]);
        // A word longer than a line breaks inside it.
        let got = font.wrap("abcdefghijk", 64, 3);
        assert_eq!(text(font, &got), ["abcdefgh", "ijk"]);
        // Nothing is ever wider than asked, whatever the text.
        for text in [
            "老".repeat(500),
            "a ".repeat(500),
            "\u{1F600}\t\u{0}x".repeat(99),
        ] {
            for (width, lines) in [(16, 1), (20, 2), (100, 4), (1000, 3)] {
                let got = font.wrap(&text, width, lines);
                assert!(got.cut && got.lines.len() <= lines);
                assert!(got.lines.iter().all(|l| line_width(l) <= width));
            }
        }
        assert!(font.wrap("", 100, 2).lines.is_empty());
        let none = font.wrap("老", 100, 0);
        assert!(none.lines.is_empty() && none.cut);
        // Fits: not cut.
        assert!(!font.wrap("老城 abc", 100, 1).cut);
        // Too narrow for a wide glyph: left out, not overflowing.
        assert!(font.wrap("老", 8, 1).lines.iter().all(|l| l.is_empty()));
    }
}
