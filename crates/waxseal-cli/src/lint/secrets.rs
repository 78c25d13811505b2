//! The weak-secret search: does any candidate secret produce this HMAC token's tag?
//!
//! Everything that does not depend on the candidate is computed once per token ([`Target`]): the signing input
//! (`header.payload` as sent), the decoded tag and the hash. Per candidate the work is one HMAC — computed here from
//! `aws_lc_rs::digest` directly (`H((K ^ opad) || H((K ^ ipad) || m))`, keys longer than the block hashed first),
//! which avoids the key-schedule set-up and allocations of `aws_lc_rs::hmac::Key::new` and is checked against it in
//! the tests — and one constant-time comparison.
//!
//! Candidates come in [`Batch`]es: one buffer of bytes plus end offsets, so a batch of 64k lines is two allocations,
//! not 64k. A batch is split across threads (`std::thread::scope`); the first thread to find the secret raises a
//! flag the others poll, so all stop within a few hundred candidates. [`search_lines`] streams a word list from any
//! `BufRead` batch by batch, so a 10-million-line file never sits in memory whole.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;

/// Candidates read from a stream per batch.
pub const BATCH_LINES: usize = 64 * 1024;

/// Candidate lines longer than this are skipped (no one's secret; bounds memory on a file without newlines).
pub const MAX_LINE: usize = 4096;

/// How often (in candidates) a worker checks whether another one has already found the secret.
const POLL_EVERY: usize = 256;

/// The HMAC algorithms a token can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hmac {
    /// HS256: HMAC-SHA-256.
    Hs256,
    /// HS384: HMAC-SHA-384.
    Hs384,
    /// HS512: HMAC-SHA-512.
    Hs512,
}

impl Hmac {
    /// The HMAC algorithm of a JWS `alg` name, if it is one.
    pub fn from_alg(alg: &str) -> Option<Hmac> {
        match alg {
            "HS256" => Some(Hmac::Hs256),
            "HS384" => Some(Hmac::Hs384),
            "HS512" => Some(Hmac::Hs512),
            _ => None,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Hmac::Hs256 => &digest::SHA256,
            Hmac::Hs384 => &digest::SHA384,
            Hmac::Hs512 => &digest::SHA512,
        }
    }

    /// Output length in bytes: also the shortest secret RFC 7518 §3.2 allows.
    pub fn tag_len(self) -> usize {
        self.digest().output_len()
    }

    /// The `aws_lc_rs::hmac` algorithm, for reference checks.
    pub fn aws_lc(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            Hmac::Hs256 => aws_lc_rs::hmac::HMAC_SHA256,
            Hmac::Hs384 => aws_lc_rs::hmac::HMAC_SHA384,
            Hmac::Hs512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }
}

/// One HMAC token, prepared for testing many candidate secrets against it.
#[derive(Debug, Clone)]
pub struct Target {
    hmac: Hmac,
    signing_input: Vec<u8>,
    tag: Vec<u8>,
}

impl Target {
    /// Prepares a compact HS256/HS384/HS512 JWS. `None` when the token is not one, or its signature has the wrong
    /// length for its algorithm (no secret can produce it).
    pub fn from_token(token: &str) -> Option<Target> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, _) = signing_input.split_once('.')?;
        let header = waxseal::b64::decode(header, "header").ok()?;
        let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
        let hmac = Hmac::from_alg(header.get("alg")?.as_str()?)?;
        let tag = waxseal::b64::decode(signature, "signature").ok()?;
        Target::new(hmac, signing_input.as_bytes().to_vec(), tag)
    }

    /// A target from its parts; `None` when the tag length does not fit the algorithm.
    pub fn new(hmac: Hmac, signing_input: Vec<u8>, tag: Vec<u8>) -> Option<Target> {
        (tag.len() == hmac.tag_len()).then_some(Target {
            hmac,
            signing_input,
            tag,
        })
    }

    /// The token's HMAC algorithm.
    pub fn hmac(&self) -> Hmac {
        self.hmac
    }

    /// True when `secret` produces the token's tag (compared in constant time).
    pub fn matches(&self, secret: &[u8]) -> bool {
        let tag = mac(self.hmac, secret, &self.signing_input);
        verify_slices_are_equal(tag.as_ref(), &self.tag).is_ok()
    }
}

/// HMAC of `message` under `key`, from the hash primitive (RFC 2104).
pub fn mac(hmac: Hmac, key: &[u8], message: &[u8]) -> digest::Digest {
    let alg = hmac.digest();
    let block = alg.block_len();
    let mut padded = [0u8; 128];
    if key.len() > block {
        let hashed = digest::digest(alg, key);
        padded[..hashed.as_ref().len()].copy_from_slice(hashed.as_ref());
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    let mut pad = [0u8; 128];
    for (p, k) in pad.iter_mut().zip(&padded).take(block) {
        *p = k ^ 0x36;
    }
    let mut inner = digest::Context::new(alg);
    inner.update(&pad[..block]);
    inner.update(message);
    let inner = inner.finish();
    for (p, k) in pad.iter_mut().zip(&padded).take(block) {
        *p = k ^ 0x5c;
    }
    let mut outer = digest::Context::new(alg);
    outer.update(&pad[..block]);
    outer.update(inner.as_ref());
    outer.finish()
}

/// Candidates packed into one buffer: candidate `i` is `data[ends[i - 1]..ends[i]]`.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds one candidate.
    pub fn push(&mut self, candidate: &[u8]) {
        self.data.extend_from_slice(candidate);
        self.ends.push(self.data.len());
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no candidates.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Candidate `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for Batch {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Batch {
        let mut batch = Batch::new();
        for candidate in iter {
            batch.push(candidate.as_ref());
        }
        batch
    }
}

/// Tests every candidate of `batch` on `threads` threads; the index of a matching candidate, if any. Stops early
/// once any thread finds one.
pub fn search_batch(target: &Target, batch: &Batch, threads: usize) -> Option<usize> {
    let threads = threads.clamp(1, batch.len().max(1));
    if threads == 1 {
        return scan(target, batch, 0..batch.len(), &AtomicBool::new(false));
    }
    let found = AtomicBool::new(false);
    let chunk = batch.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(batch.len())..((t + 1) * chunk).min(batch.len());
                let found = &found;
                scope.spawn(move || scan(target, batch, range, found))
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().ok().flatten())
            .min()
    })
}

fn scan(
    target: &Target,
    batch: &Batch,
    range: std::ops::Range<usize>,
    found: &AtomicBool,
) -> Option<usize> {
    for (n, i) in range.enumerate() {
        if n % POLL_EVERY == 0 && found.load(Ordering::Relaxed) {
            return None;
        }
        if target.matches(batch.get(i)) {
            found.store(true, Ordering::Relaxed);
            return Some(i);
        }
    }
    None
}

/// What a search did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOutcome {
    /// The secret, when one matched.
    pub found: Option<Vec<u8>>,
    /// Candidates tested (all of them unless the secret was found).
    pub candidates: u64,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Streams candidates from `reader`, one per line (`\n`, a trailing `\r` removed, empty lines and lines over
/// [`MAX_LINE`] bytes skipped), and tests them batch by batch on `threads` threads. `progress` is called after each
/// batch with the bytes consumed and candidates tested so far.
pub fn search_lines(
    target: &Target,
    mut reader: impl BufRead,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> io::Result<SearchOutcome> {
    let start = Instant::now();
    let mut batch = Batch::new();
    let mut line = Vec::with_capacity(256);
    let (mut bytes, mut candidates) = (0u64, 0u64);
    loop {
        batch.clear();
        let mut eof = false;
        while batch.len() < BATCH_LINES {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE as u64 + 2)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                eof = true;
                break;
            }
            bytes += n as u64;
            let complete = line.last() == Some(&b'\n');
            if !complete && n > MAX_LINE {
                bytes += skip_line(&mut reader)?;
                continue;
            }
            let mut word = line.as_slice();
            word = word.strip_suffix(b"\n").unwrap_or(word);
            word = word.strip_suffix(b"\r").unwrap_or(word);
            if !word.is_empty() && word.len() <= MAX_LINE {
                batch.push(word);
            }
        }
        if let Some(i) = search_batch(target, &batch, threads) {
            return Ok(SearchOutcome {
                found: Some(batch.get(i).to_vec()),
                candidates: candidates + i as u64 + 1,
                bytes,
                elapsed: start.elapsed(),
            });
        }
        candidates += batch.len() as u64;
        progress(bytes, candidates);
        if eof {
            return Ok(SearchOutcome {
                found: None,
                candidates,
                bytes,
                elapsed: start.elapsed(),
            });
        }
    }
}

/// Skips to just past the next newline; the bytes skipped.
fn skip_line(reader: &mut impl BufRead) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(skipped + i as u64 + 1);
        }
        let n = buf.len();
        reader.consume(n);
        skipped += n as u64;
    }
}

/// Threads to search with: every core the process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(hmac: Hmac, secret: &[u8], input: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(hmac.aws_lc(), secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", waxseal::b64::encode(tag.as_ref()))
    }

    #[test]
    fn mac_equals_aws_lc_hmac_on_random_keys() {
        let mut seed = [0u8; 300];
        aws_lc_rs::rand::fill(&mut seed).unwrap();
        for hmac in [Hmac::Hs256, Hmac::Hs384, Hmac::Hs512] {
            // Lengths around both block sizes (64 and 128), and empty.
            for len in [0, 1, 19, 32, 63, 64, 65, 127, 128, 129, 200, 300] {
                let key = &seed[..len];
                let message = &seed[len / 2..];
                let reference =
                    aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(hmac.aws_lc(), key), message);
                assert_eq!(
                    mac(hmac, key, message).as_ref(),
                    reference.as_ref(),
                    "{hmac:?}, {len}-byte key"
                );
            }
        }
    }

    #[test]
    fn finds_the_secret_on_any_thread_count() {
        let t = token(Hmac::Hs256, b"needle", "eyJhbGciOiJIUzI1NiJ9.e30");
        let target = Target::from_token(&t).unwrap();
        let mut words: Vec<String> = (0..1000).map(|i| format!("word{i}")).collect();
        words.insert(777, "needle".into());
        let batch: Batch = words.iter().collect();
        for threads in 1..=4 {
            assert_eq!(search_batch(&target, &batch, threads), Some(777));
        }
        let none: Batch = ["a", "b"].into_iter().collect();
        assert_eq!(search_batch(&target, &none, 2), None);
        assert_eq!(search_batch(&target, &Batch::new(), 2), None);
    }

    #[test]
    fn streams_lines_with_crlf_and_skips_overlong_ones() {
        let t = token(Hmac::Hs384, b"hunter2", "eyJhbGciOiJIUzM4NCJ9.e30");
        let target = Target::from_token(&t).unwrap();
        let long = "x".repeat(MAX_LINE + 10);
        let text = format!("alpha\r\n\n{long}\nbeta\r\nhunter2\r\ngamma\n");
        let mut calls = 0;
        let out = search_lines(&target, text.as_bytes(), 2, |_, _| calls += 1).unwrap();
        assert_eq!(out.found.as_deref(), Some(&b"hunter2"[..]));
        assert_eq!(out.candidates, 3);
        let out = search_lines(&target, &b"alpha\nbeta"[..], 1, |_, _| calls += 1).unwrap();
        assert_eq!((out.found, out.candidates, out.bytes), (None, 2, 10));
        assert!(calls >= 1);
    }

    #[test]
    fn refuses_non_hmac_and_wrong_length_tags() {
        assert!(Target::from_token("eyJhbGciOiJFUzI1NiJ9.e30.AAAA").is_none());
        assert!(Target::from_token("eyJhbGciOiJIUzI1NiJ9.e30.AAAA").is_none());
        assert!(Target::from_token("garbage").is_none());
    }
}
