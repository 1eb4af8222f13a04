//! Signed notes and checkpoints: known-answer vectors from the C2SP
//! signed-note specification and the golang.org/x/mod/sumdb/note tests,
//! round trips, and every kind of tampering.

use mingma_ledger::{
    leaf_hash, Checkpoint, CheckpointSigner, MemoryTree, NoteError, NoteVerifier, SignedNote,
    SigningKey, MAX_SIGNATURES,
};

// golang.org/x/mod/sumdb/note note_test.go (TestSign, TestOpen).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// c2sp.org/signed-note, "Example".
const C2SP_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE: &str = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const ORIGIN: &str = "mingma.example/log/test";

fn signer(seed: u8) -> CheckpointSigner {
    CheckpointSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn checkpoint() -> Checkpoint {
    let mut tree = MemoryTree::new();
    for i in 0..11u32 {
        tree.push_data(&i.to_be_bytes());
    }
    Checkpoint::new(ORIGIN, tree.len(), tree.root())
}

#[test]
fn c2sp_example_verifies() {
    let v = NoteVerifier::from_vkey(C2SP_VKEY).unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    assert_eq!(v.to_vkey(), C2SP_VKEY);
    let note = v.open(C2SP_NOTE).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    let tampered = C2SP_NOTE.replace("example message", "example massage");
    assert!(matches!(
        v.open(&tampered),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn go_sumdb_sign_known_answer() {
    let s = CheckpointSigner::from_signer_key(PETER_SKEY).unwrap();
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(s.to_signer_key(), PETER_SKEY);
    assert_eq!(s.verifier().to_vkey(), PETER_VKEY);
    // Ed25519 is deterministic: the exact signature line is reproduced.
    let note = s.sign_note(PETER_TEXT).unwrap();
    assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));
    // Debug output never contains the key.
    let dbg = format!("{s:?}");
    assert!(dbg.contains("c74f20a3") && !dbg.contains("AYEKF"), "{dbg}");
}

#[test]
fn go_sumdb_open_known_answer() {
    let peter: NoteVerifier = PETER_VKEY.parse().unwrap();
    let enoch: NoteVerifier = ENOCH_VKEY.parse().unwrap();
    let msg = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let n = peter.open(&msg).unwrap();
    assert_eq!(n.text, PETER_TEXT);
    assert_eq!(n.signatures.len(), 2);
    assert_eq!(n.signatures[0].key_id, 0xc74f20a3);
    assert_eq!(n.signatures[1].name, "EnochRoot");
    enoch.open(&msg).unwrap();
    // Re-encoding gives back the same bytes.
    assert_eq!(n.encode().unwrap(), msg);

    // Only Peter's signature: Enoch's verifier finds none.
    assert_eq!(
        enoch.open(format!("{PETER_TEXT}\n{PETER_SIG}")),
        Err(NoteError::UnknownKey {
            name: "EnochRoot".into(),
            key_id: 0xaf0cfe78
        })
    );

    // Go's "invalid signature" case: base64 altered in the middle.
    let bad = format!("{PETER_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        peter.open(&bad),
        Err(NoteError::BadSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );

    // Same name, other key ID (e.g. a rotated key): ignored, so unknown.
    let other_id = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(
        peter.open(format!("{PETER_TEXT}\n{other_id}")),
        Err(NoteError::UnknownKey { .. })
    ));
    // Same key ID, other name: ignored too.
    let other_name = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        peter.open(format!("{PETER_TEXT}\n{other_name}")),
        Err(NoteError::UnknownKey { .. })
    ));

    // Go's malformed notes.
    let bad_msgs = [
        PETER_TEXT.to_owned(),
        format!("{PETER_TEXT}\n"),
        format!("{PETER_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{PETER_TEXT}\n{PETER_SIG}"),
        format!("{PETER_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{PETER_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for m in bad_msgs {
        assert!(
            matches!(SignedNote::parse(&m), Err(NoteError::Malformed(_))),
            "{m:?}"
        );
        assert!(matches!(peter.open(&m), Err(NoteError::Malformed(_))));
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{PETER_TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(
        SignedNote::parse(&invalid_utf8),
        Err(NoteError::Malformed("not valid UTF-8"))
    );

    // Too many signatures.
    let many = format!("{PETER_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        SignedNote::parse(&many),
        Err(NoteError::Malformed("too many signatures"))
    );
    let enough = format!("{PETER_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
    peter.open(&enough).unwrap();
}

#[test]
fn verifier_key_manglings_are_rejected() {
    // As in Go's TestNewVerifier: every proper substring and every single
    // byte change of a valid key is rejected (and never panics).
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if (i, j) == (0, b.len()) {
                continue;
            }
            if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                assert!(NoteVerifier::from_vkey(s).is_err(), "{s}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(NoteVerifier::from_vkey(s).is_err(), "{s}");
        }
    }
    // Unknown algorithm with a matching key ID (Go's vector).
    assert_eq!(
        NoteVerifier::from_vkey(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(NoteError::UnsupportedSignatureType(0x65))
    );
    // Key of the wrong length with a matching key ID (Go's vector).
    assert!(matches!(
        NoteVerifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(NoteError::MalformedVerifierKey(_))
    ));
    // Signer keys likewise.
    let b = PETER_SKEY.as_bytes();
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(CheckpointSigner::from_signer_key(s).is_err(), "{s}");
        }
    }
    for j in 0..b.len() {
        let s = std::str::from_utf8(&b[..j]).unwrap();
        assert!(CheckpointSigner::from_signer_key(s).is_err(), "{s}");
    }
}

#[test]
fn key_names_are_checked() {
    let key = SigningKey::from_bytes(&[1; 32]);
    for bad in ["", "a b", "a+b", "a\u{a0}b", "tab\t"] {
        assert!(matches!(
            CheckpointSigner::new(bad, key.clone()),
            Err(NoteError::InvalidKeyName(_))
        ));
        assert!(matches!(
            NoteVerifier::new(bad, key.verifying_key()),
            Err(NoteError::InvalidKeyName(_))
        ));
    }
}

#[test]
fn checkpoint_round_trip() {
    let s = signer(7);
    let v = s.verifier();
    let cp = checkpoint();
    let note = s.sign_checkpoint(&cp).unwrap();
    let body = cp.to_text().unwrap();
    assert!(note.starts_with(&format!(
        "{ORIGIN}\n11\n{}\n\n— {ORIGIN} ",
        cp.root.to_base64()
    )));
    assert_eq!(&note[..body.len()], body);
    assert_eq!(v.verify_checkpoint(&note, ORIGIN).unwrap(), cp);
    // The verifier survives its text encoding.
    let v2 = NoteVerifier::from_vkey(&v.to_vkey()).unwrap();
    assert_eq!(v2, v);
    assert_eq!(v2.verify_checkpoint(&note, ORIGIN).unwrap(), cp);
    // The signer survives its text encoding.
    let s2 = CheckpointSigner::from_signer_key(&s.to_signer_key()).unwrap();
    assert_eq!(s2.sign_checkpoint(&cp).unwrap(), note);

    // With extension lines.
    let mut ext = cp.clone();
    ext.extensions = vec!["timestamp 1700000000".into()];
    let note = s.sign_checkpoint(&ext).unwrap();
    assert_eq!(v.verify_checkpoint(&note, ORIGIN).unwrap(), ext);

    // Cosigned by a witness: both verifiers accept, and each ignores the other.
    let witness =
        CheckpointSigner::new("witness.example/w1", SigningKey::from_bytes(&[9; 32])).unwrap();
    let mut n = SignedNote::parse(s.sign_checkpoint(&cp).unwrap()).unwrap();
    n.signatures.push(witness.sign_text(&n.text).unwrap());
    let both = n.encode().unwrap();
    assert_eq!(v.verify_checkpoint(&both, ORIGIN).unwrap(), cp);
    assert_eq!(
        witness.verifier().verify_checkpoint(&both, ORIGIN).unwrap(),
        cp
    );
}

#[test]
fn every_tamper_is_rejected() {
    let s = signer(7);
    let v = s.verifier();
    let cp = checkpoint();
    let note = s.sign_checkpoint(&cp).unwrap();
    let sig_start = note.find("\n\n").unwrap() + 2;

    let bad_sig = |n: &str| {
        assert!(
            matches!(
                v.verify_checkpoint(n, ORIGIN),
                Err(NoteError::BadSignature { .. })
            ),
            "{n:?}: {:?}",
            v.verify_checkpoint(n, ORIGIN)
        )
    };
    // Changed size, root, origin: the signature no longer matches.
    bad_sig(&note.replacen("\n11\n", "\n12\n", 1));
    bad_sig(&note.replacen("\n11\n", "\n1\n", 1));
    let other_root = leaf_hash(b"other").to_base64();
    bad_sig(&note.replacen(&cp.root.to_base64(), &other_root, 1));
    bad_sig(&note.replacen(ORIGIN, "mingma.example/log/evil", 1));
    // Added extension line.
    bad_sig(&note.replacen("\n\n", "\nextra\n\n", 1));

    // Every byte of the signature (past the key ID) flipped.
    let raw_sig = {
        use base64::Engine as _;
        let b64 = note[sig_start..].trim_end().rsplit(' ').next().unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    };
    for i in 4..raw_sig.len() {
        for bit in [0x01u8, 0x80] {
            let mut parsed = SignedNote::parse(&note).unwrap();
            parsed.signatures[0].signature[i - 4] ^= bit;
            bad_sig(&parsed.encode().unwrap());
        }
    }
    // A flipped key-ID byte makes it someone else's signature.
    for i in 0..4 {
        let mut parsed = SignedNote::parse(&note).unwrap();
        parsed.signatures[0].key_id ^= 1 << (8 * i);
        assert!(matches!(
            v.verify_checkpoint(parsed.encode().unwrap(), ORIGIN),
            Err(NoteError::UnknownKey { .. })
        ));
    }
    // Signature truncated to 63 bytes or extended to 65.
    for len in [63usize, 65] {
        let mut parsed = SignedNote::parse(&note).unwrap();
        parsed.signatures[0].signature.resize(len, 0);
        bad_sig(&parsed.encode().unwrap());
    }

    // Truncated at every position: never accepted, never a panic.
    for (cut, _) in note.char_indices() {
        let r = v.verify_checkpoint(&note[..cut], ORIGIN);
        assert!(r.is_err(), "accepted truncation at {cut}");
    }
    // Every single byte altered: never accepted.
    let bytes = note.as_bytes();
    for i in 0..bytes.len() {
        let mut m = bytes.to_vec();
        m[i] ^= 0x20;
        assert!(
            v.verify_checkpoint(&m, ORIGIN).is_err(),
            "accepted change at {i}"
        );
    }

    // Wrong key: same name, other key.
    let impostor = signer(8);
    assert!(matches!(
        v.verify_checkpoint(impostor.sign_checkpoint(&cp).unwrap(), ORIGIN),
        Err(NoteError::UnknownKey { .. })
    ));
    // Wrong key: other name.
    let other =
        CheckpointSigner::new("other.example/log", SigningKey::from_bytes(&[7; 32])).unwrap();
    assert!(matches!(
        v.verify_checkpoint(other.sign_checkpoint(&cp).unwrap(), ORIGIN),
        Err(NoteError::UnknownKey { .. })
    ));
    // A signature by the right key next to a bad one by the same key: rejected.
    let mut parsed = SignedNote::parse(&note).unwrap();
    let mut forged = parsed.signatures[0].clone();
    forged.signature[0] ^= 1;
    parsed.signatures.push(forged);
    assert!(matches!(
        v.verify_checkpoint(parsed.encode().unwrap(), ORIGIN),
        Err(NoteError::BadSignature { .. })
    ));

    // Validly signed, but for another log.
    let mut foreign = cp.clone();
    foreign.origin = "mingma.example/log/other".into();
    assert_eq!(
        v.verify_checkpoint(s.sign_checkpoint(&foreign).unwrap(), ORIGIN),
        Err(NoteError::WrongOrigin {
            expected: ORIGIN.into(),
            found: "mingma.example/log/other".into()
        })
    );
    // Validly signed, but not a checkpoint.
    assert!(matches!(
        v.verify_checkpoint(s.sign_note("hello\n").unwrap(), ORIGIN),
        Err(NoteError::MalformedCheckpoint(_))
    ));
}

#[test]
fn signing_rejects_bad_text() {
    let s = signer(1);
    assert!(matches!(
        s.sign_note("no newline"),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(
        s.sign_note("bell\x07\n"),
        Err(NoteError::Malformed(_))
    ));
    let empty = SignedNote {
        text: "x\n".into(),
        signatures: vec![],
    };
    assert!(matches!(empty.encode(), Err(NoteError::Malformed(_))));
}
