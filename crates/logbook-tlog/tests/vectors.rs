//! Runs the RFC 6962 proof vectors and the signed-note example in `testdata/`.
//!
//! Every JSON file under `testdata/rfc6962/inclusion` and `testdata/rfc6962/consistency`
//! is one case, driven through [`check`]; the files' `wantErr` is the expected answer.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use logbook_tlog::hash::{empty_root, leaf_hash, node_hash};
use logbook_tlog::note::{Verifier, verify_note};
use logbook_tlog::proof::{verify_consistency, verify_inclusion};
use serde::Deserialize;

/// Decodes a base64 hash as given, whatever its length.
fn b64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap_or_else(|e| panic!("bad base64 {s:?}: {e}"))
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Returns every JSON file under `dir`, recursively, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(json_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionCase {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    want_err: bool,
}

/// Runs one vector file and returns an error message if the verifier's answer differs
/// from the file's `wantErr`.
fn check(path: &Path, kind: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (want_err, result) = match kind {
        "inclusion" => {
            let case: InclusionCase = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let proof: Vec<Vec<u8>> = case.proof.unwrap_or_default().iter().map(|h| b64(h)).collect();
            let result =
                verify_inclusion(&b64(&case.leaf_hash), case.leaf_idx, case.tree_size, &proof, &b64(&case.root));
            (case.want_err, result)
        }
        "consistency" => {
            let case: ConsistencyCase = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let proof: Vec<Vec<u8>> = case.proof.unwrap_or_default().iter().map(|h| b64(h)).collect();
            let result = verify_consistency(case.size1, case.size2, &proof, &b64(&case.root1), &b64(&case.root2));
            (case.want_err, result)
        }
        other => return Err(format!("unknown kind {other}")),
    };
    match (want_err, result) {
        (true, Err(_)) | (false, Ok(())) => Ok(()),
        (true, Ok(())) => Err("accepted, but must be rejected".into()),
        (false, Err(e)) => Err(format!("rejected ({e}), but must be accepted")),
    }
}

/// Runs every file of one kind and returns how many there were and how many wanted an
/// error.
fn run_kind(kind: &str) -> (usize, usize) {
    let dir = testdata().join("rfc6962").join(kind);
    let files = json_files(&dir);
    assert!(!files.is_empty(), "no vector files found in {}", dir.display());
    let mut failures = Vec::new();
    let mut rejected = 0;
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        if text.contains("\"wantErr\": true") {
            rejected += 1;
        }
        if let Err(msg) = check(path, kind) {
            failures.push(format!("{}: {msg}", path.strip_prefix(&dir).unwrap().display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {kind} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    (files.len(), rejected)
}

#[test]
fn inclusion_vectors() {
    let (total, rejected) = run_kind("inclusion");
    // The copy holds 98 inclusion cases; fewer would mean files went missing.
    assert!(total >= 98, "only {total} inclusion vectors");
    assert!(rejected > 0 && rejected < total);
    // The special folders must be part of the run.
    for folder in ["additional", "single-entry"] {
        assert!(!json_files(&testdata().join("rfc6962/inclusion").join(folder)).is_empty(), "{folder} is empty");
    }
}

#[test]
fn consistency_vectors() {
    let (total, rejected) = run_kind("consistency");
    assert!(total >= 98, "only {total} consistency vectors");
    assert!(rejected > 0 && rejected < total);
    assert!(!json_files(&testdata().join("rfc6962/consistency/additional")).is_empty());
}

/// The roots listed in `testdata/rfc6962/README.md` for the reference tree.
#[test]
fn reference_tree_roots() {
    let leaves: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];
    let want = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let hex = |h: &[u8]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut edge = logbook_tlog::tree::RightEdge::new();
    assert_eq!(hex(&edge.root()), want[0]);
    assert_eq!(hex(&empty_root()), want[0]);
    for (n, leaf) in leaves.iter().enumerate() {
        edge.append(leaf_hash(leaf));
        assert_eq!(hex(&edge.root()), want[n + 1], "size {}", n + 1);
    }
    let l: Vec<_> = leaves.iter().map(|d| leaf_hash(d)).collect();
    let two = node_hash(&l[0], &l[1]);
    assert_eq!(hex(&two), want[2]);
}

#[derive(Deserialize)]
struct NoteExample {
    verifier_key: String,
    note: String,
    expect: String,
}

#[test]
fn signed_note_example_verifies() {
    let path = testdata().join("signed-note/example.json");
    let example: NoteExample = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(example.expect, "valid");
    let verifier = Verifier::parse(&example.verifier_key).unwrap();
    assert_eq!(verifier.name(), "example.com/foo");
    assert_eq!(verifier.key_id(), 0x530d903a);
    assert_eq!(verifier.to_string(), example.verifier_key);
    let note = verify_note(&example.note, std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.verified.len(), 1);
    // Any change to the text breaks the signature.
    let tampered = example.note.replace("example message", "example massage");
    assert!(verify_note(&tampered, &[verifier]).is_err());
}
