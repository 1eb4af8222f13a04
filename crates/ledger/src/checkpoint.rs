//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! The note text of a checkpoint is
//!
//! ```text
//! <origin>
//! <decimal tree size>
//! <base64 root hash>
//! [extension lines]
//! ```
//!
//! every line non-empty and ending in a newline. Sign it with
//! [`crate::CheckpointSigner::sign_checkpoint`]; open a signed one with
//! [`crate::NoteVerifier::verify_checkpoint`].

use crate::hash::Hash;
use crate::note::NoteError;

/// A transparency-log tree head: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log, e.g. `mingma.example/log/2025`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 9162 root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Opaque extension lines (without newlines); usually empty.
    pub extensions: Vec<String>,
}

/// A checkpoint line must be non-empty, a single line, without control
/// characters.
fn check_line(line: &str, what: &'static str) -> Result<(), NoteError> {
    if line.is_empty() || line.chars().any(|c| c < ' ') {
        return Err(NoteError::MalformedCheckpoint(what));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text to sign. Fails if the origin or an extension line is
    /// empty or not a single line of printable text.
    pub fn to_text(&self) -> Result<String, NoteError> {
        check_line(&self.origin, "origin is empty or not a single line")?;
        for ext in &self.extensions {
            check_line(ext, "extension line is empty or not a single line")?;
        }
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        Ok(text)
    }

    /// Parses a checkpoint note text. Only call this on verified text (see
    /// [`crate::NoteVerifier::verify_checkpoint`]).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedCheckpoint(
                "text does not end with a newline",
            ))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::MalformedCheckpoint("fewer than three lines"));
        };
        check_line(origin, "origin is empty")?;
        let size = parse_size(size)?;
        let root = Hash::from_base64(root)
            .map_err(|_| NoteError::MalformedCheckpoint("root is not base64 of 32 bytes"))?;
        let extensions = lines
            .map(|l| {
                check_line(l, "empty extension line")?;
                Ok(l.to_owned())
            })
            .collect::<Result<Vec<_>, NoteError>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// ASCII decimal, no sign, no leading zero (except `0` itself), fits in u64.
fn parse_size(s: &str) -> Result<u64, NoteError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NoteError::MalformedCheckpoint(
            "size is not a decimal number",
        ));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(NoteError::MalformedCheckpoint("size has a leading zero"));
    }
    s.parse()
        .map_err(|_| NoteError::MalformedCheckpoint("size does not fit in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn text_round_trip() {
        let mut cp = Checkpoint::new("example.com/log", 20852163, leaf_hash(b"x"));
        let text = cp.to_text().unwrap();
        assert_eq!(
            text,
            format!(
                "example.com/log\n20852163\n{}\n",
                leaf_hash(b"x").to_base64()
            )
        );
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
        cp.extensions = vec!["ext one".into(), "— two".into()];
        let text = cp.to_text().unwrap();
        assert!(text.ends_with("ext one\n— two\n"));
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
        let zero = Checkpoint::new("o", 0, crate::empty_root());
        assert_eq!(Checkpoint::parse(&zero.to_text().unwrap()).unwrap(), zero);
        let max = Checkpoint::new("o", u64::MAX, crate::empty_root());
        assert_eq!(Checkpoint::parse(&max.to_text().unwrap()).unwrap(), max);
    }

    #[test]
    fn rejects_bad_text() {
        let root = leaf_hash(b"x").to_base64();
        let bad = [
            String::new(),
            "o\n1\n".to_owned(),
            format!("o\n1\n{root}"),
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n1 \n{root}\n"),
            format!("o\n\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            "o\n1\nZG9uJ3QgY2FyZSAy\n".to_owned(),
            format!("o\n1\n{}\n", root.trim_end_matches('=')),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}\next\n\n"),
            format!("o\r\n1\n{root}\n"),
        ];
        for text in bad {
            assert!(
                matches!(
                    Checkpoint::parse(&text),
                    Err(NoteError::MalformedCheckpoint(_))
                ),
                "{text:?}"
            );
        }
        let mut cp = Checkpoint::new("", 1, leaf_hash(b"x"));
        assert!(cp.to_text().is_err());
        cp.origin = "a\nb".into();
        assert!(cp.to_text().is_err());
        cp.origin = "a".into();
        cp.extensions = vec![String::new()];
        assert!(cp.to_text().is_err());
    }
}
