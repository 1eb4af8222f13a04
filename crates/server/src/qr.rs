//! QR codes as SVG, and the venue poster.

use std::fmt::Write as _;

use qrcode::{Color, EcLevel, QrCode};

use crate::accounts::VenueRecord;

/// The QR code of `text` as an SVG element of `size` pixels (black on white, a quiet
/// zone of four modules). Text too long for a QR code gives an error.
pub fn qr_svg(text: &str, size: u32) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| format!("cannot encode a QR code: {e}"))?;
    let width = code.width();
    let total = width + 8;
    let mut path = String::new();
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == Color::Dark {
            let _ = write!(path, "M{},{}h1v1h-1z", i % width + 4, i / width + 4);
        }
    }
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="qr" width="{size}" height="{size}" viewBox="0 0 {total} {total}" shape-rendering="crispEdges"><rect width="{total}" height="{total}" fill="#fff"/><path fill="#000" d="{path}"/></svg>"##
    ))
}

/// Escapes text for XML.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A printable A-format poster (SVG): title, the venue's name and address, the QR
/// of the check-in URL carrying the static signed token, and the instructions.
pub fn poster_svg(venue: &VenueRecord, url: &str) -> Result<String, String> {
    let qr = qr_svg(url, 440)?;
    // Nest the QR's SVG at its place on the page.
    let qr = qr.replacen("<svg ", r#"<svg x="80" y="260" "#, 1);
    Ok(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="600" height="850" viewBox="0 0 600 850">
<rect width="600" height="850" fill="#fff"/>
<rect x="0" y="0" width="600" height="110" fill="#0a7d3b"/>
<text x="300" y="65" font-size="40" font-family="sans-serif" fill="#fff" text-anchor="middle">场所码 · Venue code</text>
<text x="300" y="160" font-size="30" font-family="sans-serif" fill="#111" text-anchor="middle">{name}</text>
<text x="300" y="200" font-size="18" font-family="sans-serif" fill="#444" text-anchor="middle">{address}</text>
<text x="300" y="230" font-size="14" font-family="sans-serif" fill="#666" text-anchor="middle">{street} {street_name}</text>
{qr}
<text x="300" y="745" font-size="20" font-family="sans-serif" fill="#111" text-anchor="middle">请用手机相机扫码登记 · Scan with your phone camera to check in</text>
<text x="300" y="780" font-size="14" font-family="sans-serif" fill="#666" text-anchor="middle">场所编号 {id} · 静态码 (static poster code)</text>
</svg>
"##,
        name = xml_escape(&venue.venue.name),
        address = xml_escape(&venue.address),
        street = venue.venue.street,
        street_name = xml_escape(&venue.venue.street.full_name()),
        id = xml_escape(venue.venue.id.as_str()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_render_and_overlong_text_is_an_error() {
        let svg = qr_svg("http://127.0.0.1:8080/v/MV1.abc", 200).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
        assert!(qr_svg(&"x".repeat(5000), 200).is_err());
        assert_eq!(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }
}
