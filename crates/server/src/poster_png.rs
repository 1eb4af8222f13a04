//! The venue poster as PNG: the SVG poster's content and layout (title band, the
//! venue's name, address and street, the QR of the check-in URL with the static
//! signed token, the instructions and the venue id), rasterised here without a
//! font engine: the QR from the qrcode crate's modules, the text from the embedded
//! Unifont glyphs (`font`) scaled by whole numbers, encoded by the png crate as an
//! 8-bit palette image of 1200 × 1700 pixels (about A4 at 144 dpi, which the image
//! says in its pHYs chunk).
//!
//! Venue names and addresses are user input: every text block is wrapped to the
//! poster's width and cut with "…" after its last line, so nothing overflows.

use qrcode::{Color, EcLevel, QrCode};

use crate::accounts::VenueRecord;
use crate::font::{line_width, Font, Glyph, GLYPH_HEIGHT};

/// The poster's width in pixels.
pub const WIDTH: u32 = 1200;
/// The poster's height in pixels.
pub const HEIGHT: u32 = 1700;
/// No text comes closer than this to the left or right edge.
pub const MARGIN: u32 = 60;
/// The height of the green title band.
const BAND: u32 = 220;
/// The QR code (quiet zone included) fits this square, centred horizontally.
const QR_TOP: u32 = 580;
const QR_BOX: u32 = 860;
/// Pixels per metre for 144 dpi.
const PIXELS_PER_METRE: u32 = 5669;

/// The palette: white, the band's green, ink, dark grey, grey, black.
const PALETTE: [[u8; 3]; 6] = [
    [0xff, 0xff, 0xff],
    [0x0a, 0x7d, 0x3b],
    [0x11, 0x11, 0x11],
    [0x44, 0x44, 0x44],
    [0x66, 0x66, 0x66],
    [0x00, 0x00, 0x00],
];
const WHITE: u8 = 0;
const GREEN: u8 = 1;
const INK: u8 = 2;
const DARK_GREY: u8 = 3;
const GREY: u8 = 4;
const BLACK: u8 = 5;

/// An image of palette indices; drawing outside it is clipped.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![WHITE; width as usize * height as usize],
        }
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u8) {
        let (x_end, y_end) = (
            x.saturating_add(w).min(self.width),
            y.saturating_add(h).min(self.height),
        );
        for row in y.min(y_end)..y_end {
            let start = row as usize * self.width as usize;
            self.pixels[start + x.min(x_end) as usize..start + x_end as usize].fill(colour);
        }
    }

    fn glyph(&mut self, g: &Glyph, x: u32, y: u32, scale: u32, colour: u8) {
        for gy in 0..GLYPH_HEIGHT {
            for gx in 0..g.width() {
                if g.ink(gx, gy) {
                    self.fill(x + gx * scale, y + gy * scale, scale, scale, colour);
                }
            }
        }
    }

    /// Draws each line centred between the margins, from `top` down; returns the
    /// bottom of the last line.
    fn lines(&mut self, lines: &[Vec<Glyph>], top: u32, scale: u32, gap: u32, colour: u8) -> u32 {
        let mut y = top;
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                y += gap;
            }
            let width = line_width(line) * scale;
            let mut x = (self.width.saturating_sub(width)) / 2;
            for g in line {
                self.glyph(g, x, y, scale, colour);
                x += g.width() * scale;
            }
            y += GLYPH_HEIGHT * scale;
        }
        y
    }

    fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(PALETTE.concat());
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: PIXELS_PER_METRE,
            yppu: PIXELS_PER_METRE,
            unit: png::Unit::Meter,
        }));
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("cannot encode the poster: {e}"))?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| format!("cannot encode the poster: {e}"))?;
        writer
            .finish()
            .map_err(|e| format!("cannot encode the poster: {e}"))?;
        Ok(out)
    }
}

/// A block of text: wrapped to the width between the margins at the largest of
/// `scales` (with its number of lines) at which it fits, else cut at the last.
fn fit(font: &Font, text: &str, scales: &[(u32, usize)]) -> (Vec<Vec<Glyph>>, u32) {
    let mut last = (Vec::new(), 1);
    for &(scale, lines) in scales {
        let wrapped = font.wrap(text, (WIDTH - 2 * MARGIN) / scale, lines);
        if !wrapped.cut {
            return (wrapped.lines, scale);
        }
        last = (wrapped.lines, scale);
    }
    last
}

/// The printable poster as PNG: what the SVG poster shows, with the QR of `url`
/// (the check-in URL carrying the static signed token). Text too long for a QR
/// code gives an error.
pub fn poster_png(venue: &VenueRecord, url: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|e| format!("cannot encode a QR code: {e}"))?;
    let font = Font::embedded();
    let mut canvas = Canvas::new(WIDTH, HEIGHT);

    // The title band.
    canvas.fill(0, 0, WIDTH, BAND, GREEN);
    let (title, scale) = fit(font, "场所码 · Venue code", &[(5, 1), (3, 1)]);
    canvas.lines(&title, (BAND - GLYPH_HEIGHT * scale) / 2, scale, 0, WHITE);

    // The name, centred in its slot: two lines large, else three smaller.
    let (name, scale) = fit(font, &venue.venue.name, &[(4, 2), (3, 3)]);
    let (slot_top, slot_height, gap): (u32, u32, u32) = (240, 160, 8);
    let height = (name.len() as u32 * (GLYPH_HEIGHT * scale + gap)).saturating_sub(gap);
    canvas.lines(
        &name,
        slot_top + slot_height.saturating_sub(height) / 2,
        scale,
        gap,
        INK,
    );

    // The address, then the street.
    let (address, scale) = fit(font, &venue.address, &[(2, 3)]);
    let bottom = canvas.lines(&address, 412, scale, 6, DARK_GREY);
    let street = format!("{} {}", venue.venue.street, venue.venue.street.full_name());
    let (street, scale) = fit(font, &street, &[(2, 1)]);
    canvas.lines(&street, bottom + 8, scale, 0, GREY);

    // The QR code, with its quiet zone of four modules.
    let modules = code.width() as u32;
    let total = modules + 8;
    let module = QR_BOX / total;
    if module == 0 {
        return Err(format!(
            "a QR code of {modules} modules does not fit the poster"
        ));
    }
    let left = (WIDTH - module * total) / 2 + 4 * module;
    let top = QR_TOP + (QR_BOX - module * total) / 2 + 4 * module;
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == Color::Dark {
            let (x, y) = ((i % code.width()) as u32, (i / code.width()) as u32);
            canvas.fill(left + x * module, top + y * module, module, module, BLACK);
        }
    }

    // The instructions and the venue id.
    let (help, scale) = fit(
        font,
        "请用手机相机扫码登记 · Scan with your phone camera to check in",
        &[(2, 2)],
    );
    let bottom = canvas.lines(&help, QR_TOP + QR_BOX + 20, scale, 6, INK);
    let id = format!("场所编号 {} · 静态码 (static poster code)", venue.venue.id);
    let (id, scale) = fit(font, &id, &[(2, 2)]);
    canvas.lines(&id, bottom + 16, scale, 6, GREY);

    canvas.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_core::{Jurisdiction, Timestamp, Venue, VenueId, VenueKind};

    fn venue(name: &str, address: &str) -> VenueRecord {
        VenueRecord {
            venue: Venue {
                id: VenueId::parse("v-0123456789ab").unwrap(),
                name: name.into(),
                street: Jurisdiction::parse("410102001").unwrap(),
                kind: VenueKind::Restaurant,
            },
            address: address.into(),
            operator: None,
            poster_issued_at: Timestamp::from_unix_seconds(1_655_000_000).unwrap(),
        }
    }

    /// The decoded image: width, height, palette indices.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Indexed, png::BitDepth::Eight)
        );
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        (frame.width, frame.height, pixels)
    }

    #[test]
    fn long_text_stays_inside_the_margins() {
        let url = "http://mingma.test/v/MV1.abcdefghijklmnopqrstuvwxyz0123456789";
        for (name, address) in [
            ("老城烩面馆", "郑州市中原区建设路 12 号"),
            (&*"很长的场所名称".repeat(10), &*"非常长的地址，".repeat(19)),
            (&*"Long venue name ".repeat(4), &*"Lane ".repeat(25)),
            (&*"W".repeat(64), &*"\u{1F600}한".repeat(64)),
        ] {
            let (w, h, pixels) = decode(&poster_png(&venue(name, address), url).unwrap());
            assert_eq!((w, h), (WIDTH, HEIGHT));
            // Below the band, only the QR code may reach into the margins.
            for y in BAND..HEIGHT {
                for x in (0..MARGIN).chain(WIDTH - MARGIN..WIDTH) {
                    assert_eq!(pixels[(y * w + x) as usize], WHITE, "{name}: ({x}, {y})");
                }
            }
            // The name is drawn: ink in its slot.
            let slot = &pixels[(240 * w) as usize..(400 * w) as usize];
            assert!(slot.contains(&INK), "{name}");
            // Text never runs into the QR code's box, nor under the page's bottom.
            let row = |y: u32| &pixels[(y * w) as usize..((y + 1) * w) as usize];
            assert!(row(QR_TOP - 1).iter().all(|p| *p == WHITE), "{name}");
            assert!(row(HEIGHT - 1).iter().all(|p| *p == WHITE), "{name}");
        }
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error() {
        assert!(poster_png(&venue("x", "y"), &"x".repeat(5000)).is_err());
    }
}
