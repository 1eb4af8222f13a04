//! Runs every RFC 6962 proof vector of transparency-dev/merkle (copied into
//! `testdata/merkle`, see its SOURCE.md) through the verifiers.
//!
//! Fields are read as the reference Go implementation reads them with
//! `encoding/json`: a missing or null number is 0, a missing or null byte
//! string is empty, a missing or null proof is empty, a missing `wantErr` is
//! false. Byte strings are standard base64.

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mingma_ledger::{
    verify_consistency, verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes, Hash,
};
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/merkle")
}

/// All `.json` files below `dir`, recursively, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

struct Case {
    path: PathBuf,
    v: Value,
}

impl Case {
    fn load(path: PathBuf) -> Case {
        let text = fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
        assert!(v.is_object(), "{}: not a JSON object", path.display());
        Case { path, v }
    }

    fn u64(&self, field: &str) -> u64 {
        match self.v.get(field) {
            None | Some(Value::Null) => 0,
            Some(x) => x
                .as_u64()
                .unwrap_or_else(|| panic!("{}: {field} is not a u64", self.path.display())),
        }
    }

    fn bytes_of(&self, field: &str, x: Option<&Value>) -> Vec<u8> {
        match x {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => STANDARD
                .decode(s)
                .unwrap_or_else(|e| panic!("{}: {field}: bad base64: {e}", self.path.display())),
            Some(_) => panic!("{}: {field} is not a string", self.path.display()),
        }
    }

    fn bytes(&self, field: &str) -> Vec<u8> {
        self.bytes_of(field, self.v.get(field))
    }

    fn proof(&self) -> Vec<Vec<u8>> {
        match self.v.get("proof") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| self.bytes_of("proof[]", Some(x)))
                .collect(),
            Some(_) => panic!("{}: proof is not an array", self.path.display()),
        }
    }

    fn want_err(&self) -> bool {
        match self.v.get("wantErr") {
            None | Some(Value::Null) => false,
            Some(x) => x
                .as_bool()
                .unwrap_or_else(|| panic!("{}: wantErr is not a bool", self.path.display())),
        }
    }

    fn name(&self) -> String {
        self.path
            .strip_prefix(testdata())
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }
}

/// The typed API on the same input, when every hash is 32 bytes.
fn typed(leaf_or_roots: &[&[u8]], proof: &[Vec<u8>]) -> Option<(Vec<Hash>, Vec<Hash>)> {
    let hashes = leaf_or_roots
        .iter()
        .map(|b| Hash::from_slice(b).ok())
        .collect::<Option<Vec<_>>>()?;
    let proof = proof
        .iter()
        .map(|b| Hash::from_slice(b).ok())
        .collect::<Option<Vec<_>>>()?;
    Some((hashes, proof))
}

struct Tally {
    files: usize,
    cases: usize,
    ok: usize,
    rejected: usize,
    failures: Vec<String>,
}

fn run(kind: &str, check: impl Fn(&Case) -> Result<(), String>) -> Tally {
    let files = json_files(&testdata().join(kind));
    let mut t = Tally {
        files: files.len(),
        cases: 0,
        ok: 0,
        rejected: 0,
        failures: Vec::new(),
    };
    for path in files {
        let case = Case::load(path);
        t.cases += 1;
        let got = check(&case);
        match (case.want_err(), &got) {
            (false, Ok(())) => t.ok += 1,
            (true, Err(_)) => t.rejected += 1,
            (false, Err(e)) => t.failures.push(format!("{}: rejected: {e}", case.name())),
            (true, Ok(())) => t.failures.push(format!("{}: accepted", case.name())),
        }
    }
    eprintln!(
        "{kind}: {} files, {} cases: {} verified, {} rejected as expected, {} wrong",
        t.files,
        t.cases,
        t.ok,
        t.rejected,
        t.failures.len()
    );
    t
}

fn assert_tally(kind: &str, t: &Tally) {
    assert!(
        t.files > 0,
        "no {kind} vectors found under {}",
        testdata().display()
    );
    assert_eq!(t.cases, t.files, "{kind}: a file was skipped");
    assert_eq!(t.ok + t.rejected, t.cases, "{kind}: {:#?}", t.failures);
    assert!(t.failures.is_empty(), "{kind}: {:#?}", t.failures);
    assert!(t.ok > 0 && t.rejected > 0, "{kind}: vectors lack variety");
}

#[test]
fn inclusion_vectors() {
    let t = run("inclusion", |c| {
        let (index, size) = (c.u64("leafIdx"), c.u64("treeSize"));
        let (leaf, root, proof) = (c.bytes("leafHash"), c.bytes("root"), c.proof());
        let got = verify_inclusion_bytes(&leaf, index, size, &proof, &root);
        if let Some((h, p)) = typed(&[&leaf, &root], &proof) {
            let typed = verify_inclusion(&h[0], index, size, &p, &h[1]);
            assert_eq!(got, typed, "{}: typed and bytes APIs disagree", c.name());
        }
        got.map_err(|e| e.to_string())
    });
    assert_tally("inclusion", &t);
}

#[test]
fn consistency_vectors() {
    let t = run("consistency", |c| {
        let (size1, size2) = (c.u64("size1"), c.u64("size2"));
        let (root1, root2, proof) = (c.bytes("root1"), c.bytes("root2"), c.proof());
        let got = verify_consistency_bytes(size1, size2, &proof, &root1, &root2);
        if let Some((h, p)) = typed(&[&root1, &root2], &proof) {
            let typed = verify_consistency(size1, size2, &p, &h[0], &h[1]);
            assert_eq!(got, typed, "{}: typed and bytes APIs disagree", c.name());
        }
        got.map_err(|e| e.to_string())
    });
    assert_tally("consistency", &t);
}

#[test]
fn vector_tree_is_reproduced() {
    // The vectors come from the reference tree of 8 leaves built from these
    // entries (transparency-dev/merkle testonly.LeafInputs); its root appears
    // in inclusion/1/happy-path.json.
    let entries: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let mut tree = mingma_ledger::MemoryTree::new();
    for e in entries {
        tree.push_data(e);
    }
    let case = Case::load(testdata().join("inclusion/1/happy-path.json"));
    assert_eq!(case.u64("treeSize"), 8);
    assert_eq!(tree.root().as_bytes().as_slice(), case.bytes("root"));
    let proof: Vec<Vec<u8>> = tree
        .inclusion_proof(case.u64("leafIdx"), 8)
        .unwrap()
        .iter()
        .map(|h| h.as_bytes().to_vec())
        .collect();
    assert_eq!(proof, case.proof());
    let case = Case::load(testdata().join("consistency/1/happy-path.json"));
    let proof: Vec<Vec<u8>> = tree
        .consistency_proof(case.u64("size1"), case.u64("size2"))
        .unwrap()
        .iter()
        .map(|h| h.as_bytes().to_vec())
        .collect();
    assert_eq!(proof, case.proof());
}
