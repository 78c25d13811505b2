//! What the regression corpus (`fuzz/regressions/<target>/`) holds and what each input must do.

/// What an input did: some verifier or parser accepted it, or everything refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Some verifier (or parser) accepted the input.
    Accepted,
    /// Everything refused the input.
    Refused,
}

/// A seed input of a target, committed under `fuzz/regressions/<target>/<name>`.
///
/// The name says what the input must do, and the regression tests hold it to that, so a change of fixture cannot
/// silently turn the corpus into noise: `ok-*` must be accepted, `attack-*` refused. Other names (crashes the fuzzer
/// found, `crash-<sha1>`) only have to keep every property.
#[derive(Debug)]
pub struct Seed {
    /// The fuzz target it is for.
    pub target: &'static str,
    /// The file name.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
    /// False for inputs made with a randomized signature (ES256, PS256): their file is kept as long as it verifies.
    pub deterministic: bool,
}

/// The outcome a corpus file's name promises, if any.
pub fn expected(name: &str) -> Option<Outcome> {
    if name.starts_with("ok-") {
        Some(Outcome::Accepted)
    } else if name.starts_with("attack-") {
        Some(Outcome::Refused)
    } else {
        None
    }
}

/// `fuzz/regressions/<target>` of the checkout whose `crates/<crate>` is `manifest_dir`.
pub fn corpus_dir(manifest_dir: &str, target: &str) -> std::path::PathBuf {
    std::path::Path::new(manifest_dir)
        .join("../../fuzz/regressions")
        .join(target)
}

/// The files of a target's regression corpus, which must exist and not be empty.
pub fn corpus(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "the regression corpus {} is missing ({e}); it is committed with the fuzz targets",
            dir.display()
        )
    });
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            (name, std::fs::read(&path).expect("readable corpus file"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// Runs every file of `dir` through `property` (the fuzz target's own code) and holds it to its name's promise.
pub fn replay(dir: &std::path::Path, property: fn(&[u8]) -> Outcome) {
    let files = corpus(dir);
    for (name, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| property(bytes)).unwrap_or_else(|_| {
            panic!(
                "{}/{name} breaks a property (see the panic above)",
                dir.display()
            )
        });
        if let Some(promised) = expected(name) {
            assert_eq!(outcome, promised, "{}/{name}", dir.display());
        }
    }
    assert!(
        files
            .iter()
            .any(|(name, _)| expected(name) == Some(Outcome::Accepted)),
        "{}: no input is accepted, so the fuzzer would not start past the checks",
        dir.display()
    );
}

/// Checks that the committed seeds are `seeds` (same bytes when deterministic, present otherwise); with
/// `WAXSEAL_BLESS_FUZZ_SEEDS` set, writes what is missing or stale instead of failing.
pub fn check_seeds(manifest_dir: &str, seeds: &[Seed]) {
    let bless = std::env::var_os("WAXSEAL_BLESS_FUZZ_SEEDS").is_some();
    let mut stale = Vec::new();
    for seed in seeds {
        let dir = corpus_dir(manifest_dir, seed.target);
        let path = dir.join(&seed.name);
        let fresh = std::fs::read(&path)
            .ok()
            .is_some_and(|bytes| !seed.deterministic || bytes == seed.bytes);
        if fresh {
            continue;
        }
        if bless {
            std::fs::create_dir_all(&dir).expect("create the corpus directory");
            std::fs::write(&path, &seed.bytes).expect("write a seed");
        } else {
            stale.push(format!("{}/{}", seed.target, seed.name));
        }
    }
    assert!(
        stale.is_empty(),
        "seeds missing or stale in fuzz/regressions: {stale:?}; rerun the test with WAXSEAL_BLESS_FUZZ_SEEDS=1 and \
         commit the files"
    );
}
