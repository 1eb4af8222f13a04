//! The byte layout shared by the tokens: big-endian integers, length-prefixed
//! strings, strict reading (every byte accounted for, never a panic).

use mingma_core::Timestamp;

/// Writes a token's canonical bytes.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn time(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.unix_seconds().to_be_bytes());
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// A string of at most 255 bytes (callers check lengths when building).
    pub(crate) fn str(&mut self, s: &str) {
        let len = u8::try_from(s.len()).unwrap_or(u8::MAX);
        self.0.push(len);
        self.0
            .extend_from_slice(s.as_bytes().get(..usize::from(len)).unwrap_or_default());
    }
}

/// Reads a token's canonical bytes; errors name the field.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("it ends inside field `{field}`"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        let bytes = self.take(N, field)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8, String> {
        Ok(self.array::<1>(field)?[0])
    }
    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn u64(&mut self, field: &str) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn time(&mut self, field: &str) -> Result<Timestamp, String> {
        let seconds = i64::from_be_bytes(self.array(field)?);
        Timestamp::from_unix_seconds(seconds)
            .ok_or_else(|| format!("field `{field}` is not a time between 2000 and 2099"))
    }
    pub(crate) fn str(&mut self, field: &str) -> Result<&'a str, String> {
        let len = self.u8(field)?;
        let bytes = self.take(usize::from(len), field)?;
        std::str::from_utf8(bytes).map_err(|_| format!("field `{field}` is not UTF-8"))
    }
    pub(crate) fn finish(self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes follow the last field", self.rest.len()))
        }
    }
}

/// Splits `PREFIX` + base64url(payload || 64-byte signature).
pub(crate) fn split_signed(text: &str, prefix: &str) -> Result<(Vec<u8>, [u8; 64]), String> {
    use base64::Engine as _;
    let body = text
        .trim()
        .strip_prefix(prefix)
        .ok_or_else(|| format!("it does not start with `{prefix}`"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.as_bytes())
        .map_err(|_| "its body is not unpadded base64url".to_owned())?;
    if bytes.len() < 64 {
        return Err("it is too short to hold a signature".into());
    }
    let (payload, signature) = bytes.split_at(bytes.len() - 64);
    let mut sig = [0; 64];
    sig.copy_from_slice(signature);
    Ok((payload.to_vec(), sig))
}

/// `PREFIX` + base64url(payload || signature).
pub(crate) fn join_signed(prefix: &str, payload: &[u8], signature: &[u8; 64]) -> String {
    use base64::Engine as _;
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(signature);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The message actually signed: a domain tag, a zero byte, the payload.
pub(crate) fn signed_message(domain: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.len() + 1 + payload.len());
    m.extend_from_slice(domain.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}
