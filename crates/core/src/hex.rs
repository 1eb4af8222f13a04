//! Hexadecimal text of 32-byte values (keys, salts, commitments), one way for all.

use std::fmt;

/// Why a text is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hexadecimal digits")]
pub struct HexError;

/// Writes 32 bytes as 64 lower-case hexadecimal digits.
pub(crate) fn to_hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// Parses exactly 64 hexadecimal digits (either case), nothing else: no sign, no
/// prefix, no spaces.
pub(crate) fn from_hex(text: &str) -> Result<[u8; 32], HexError> {
    let mut out = [0u8; 32];
    fill_from_hex(text, &mut out)?;
    Ok(out)
}

/// Parses exactly `2 * out.len()` hexadecimal digits into `out`.
pub(crate) fn fill_from_hex(text: &str, out: &mut [u8]) -> Result<(), HexError> {
    fn nibble(c: u8) -> Result<u8, HexError> {
        match c {
            b'0'..=b'9' => Ok(c.wrapping_sub(b'0')),
            b'a'..=b'f' => Ok(c.wrapping_sub(b'a').wrapping_add(10)),
            b'A'..=b'F' => Ok(c.wrapping_sub(b'A').wrapping_add(10)),
            _ => Err(HexError),
        }
    }
    let text = text.as_bytes();
    if text.len() != 2 * out.len() {
        return Err(HexError);
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [high, low] = pair else {
            return Err(HexError);
        };
        *byte = (nibble(*high)? << 4) | nibble(*low)?;
    }
    Ok(())
}
