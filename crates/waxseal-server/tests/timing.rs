//! User enumeration by timing: a failed login must take as long whether the name is unknown, the password wrong or
//! the account disabled, because each costs one argon2id verification (an unknown name verifies against a dummy
//! hash). Measured over real HTTP on loopback, the three kinds interleaved in a shuffled order so that whatever else
//! the machine is doing slows all of them alike, then compared with a rank test and by their medians.
//!
//! Without the dummy verification an unknown name answers in about a millisecond against tens of milliseconds for
//! a known one: every unknown-name sample is faster than every known-name one, the medians differ by over 90 % and
//! the rank test's p-value is below 10⁻²⁰. The bounds below (medians within 35 %, p above 10⁻⁴) are far from that,
//! and from what a busy two-core machine produces when the costs are equal: medians within 18 % and p from 0.19 to
//! 0.96 in eight runs beside a soak test and several compilers (load average 9 to 13 on two cores). Because the order of the kinds is
//! shuffled, load cannot favour one kind, and p falls below 10⁻⁴ by chance once in 10,000 runs.
//!
//! Throttling counts every failure, 5 per account and 20 per client address before a delay, so the attempts go in
//! rounds of 18 failures over several accounts, and the injected clock moves past the throttle's memory
//! ([`FORGET_AFTER`]) between rounds; every answer is checked to be the 401 of a verification, never a 429.

mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, TestClock, TestServer};
use waxseal_server::FORGET_AFTER;

/// Samples per kind of failure.
const SAMPLES: usize = 60;
/// Attempts of each kind per round (3 kinds: 18 failures from one address, under its 20 free ones).
const PER_ROUND: usize = 6;
/// Accounts per kind of known-name failure, so none exceeds its 5 free failures in a round.
const ACCOUNTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UnknownUser,
    WrongPassword,
    DisabledUser,
}

const KINDS: [Kind; 3] = [Kind::UnknownUser, Kind::WrongPassword, Kind::DisabledUser];

/// A small deterministic generator for the order of attempts (xorshift64*).
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// `POST /login` and the time until the whole answer is read.
async fn timed_login(server: &TestServer, username: &str, password: &str) -> (u16, Duration) {
    let body = serde_json::json!({"username": username, "password": password});
    let started = Instant::now();
    let response = server
        .client
        .post(server.at("/login"))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let _ = response.bytes().await.expect("body");
    (status, started.elapsed())
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])
    }
}

/// The two-sided p-value of the Mann–Whitney U test (normal approximation with the tie correction; fine for
/// samples of this size), and U of `a`.
fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let n = n1 + n2;
    let (mut rank_sum_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0.total_cmp(&all[i].0).is_eq() {
            j += 1;
        }
        let tied = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_a += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        ties += tied * tied * tied - tied;
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let z = (u - mean).abs() / variance.sqrt();
    (erfc(z / std::f64::consts::SQRT_2), u)
}

/// The complementary error function (Numerical Recipes' `erfcc`, relative error under 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[test]
fn the_rank_test_and_erfc_give_known_values() {
    assert!((erfc(0.0) - 1.0).abs() < 1e-6);
    assert!((erfc(1.959_964 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-5);
    // Fully separated samples of 60: p is astronomically small; identical samples: p = 1.
    let low: Vec<f64> = (0..60).map(f64::from).collect();
    let high: Vec<f64> = (100..160).map(f64::from).collect();
    assert!(mann_whitney(&low, &high).0 < 1e-20);
    assert!((mann_whitney(&low, &low).0 - 1.0).abs() < 1e-6);
    // Interleaved samples: no evidence of a difference.
    let even: Vec<f64> = (0..60).map(|i| f64::from(2 * i)).collect();
    let odd: Vec<f64> = (0..60).map(|i| f64::from(2 * i + 1)).collect();
    assert!(mann_whitney(&even, &odd).0 > 0.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_wrong_password_and_disabled_user_logins_take_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    // Names of one length, so nothing differs but whether the account exists and its state.
    for i in 0..ACCOUNTS {
        server.add_user(&format!("known-{i:02}"), &[]).await;
        server.add_user(&format!("frozn-{i:02}"), &[]).await;
        server
            .service
            .set_user_disabled(&format!("frozn-{i:02}"), true)
            .await
            .unwrap();
    }
    // Warm-up: the first verifications pay for allocations and caches.
    for i in 0..3 {
        let (status, _) = timed_login(&server, &format!("known-{i:02}"), PASSWORD).await;
        assert_eq!(status, 200);
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut order = Shuffle(seed);
    let mut times: [Vec<f64>; 3] = Default::default();
    let mut attempt = 0usize;
    for _round in 0..SAMPLES / PER_ROUND {
        // The throttle forgets failures FORGET_AFTER seconds after the last one.
        clock.advance(Duration::from_secs(FORGET_AFTER + 1));
        let mut round: Vec<Kind> = KINDS
            .iter()
            .flat_map(|&k| std::iter::repeat_n(k, PER_ROUND))
            .collect();
        order.shuffle(&mut round);
        let mut used = [0usize; 3];
        for kind in round {
            attempt += 1;
            let account = used[kind as usize] % ACCOUNTS;
            used[kind as usize] += 1;
            let (name, password) = match kind {
                Kind::UnknownUser => (format!("ghost-{:02}", attempt % 100), PASSWORD),
                Kind::WrongPassword => (format!("known-{account:02}"), "not the password at all"),
                Kind::DisabledUser => (format!("frozn-{account:02}"), PASSWORD),
            };
            let (status, took) = timed_login(&server, &name, password).await;
            assert_eq!(
                status, 401,
                "{kind:?} {name}: a 429 means throttling interfered"
            );
            times[kind as usize].push(took.as_secs_f64() * 1e3);
        }
    }

    let [unknown, wrong, disabled] = &times;
    let report = |label: &str, a: &[f64], b: &[f64]| {
        let (p, u) = mann_whitney(a, b);
        let (ma, mb) = (median(a), median(b));
        let diff = (ma - mb) / mb;
        eprintln!(
            "timing: {label}: medians {ma:.2} ms vs {mb:.2} ms ({:+.1} %), Mann–Whitney U {u:.0} of {}, p = {p:.2e}",
            diff * 100.0,
            a.len() * b.len()
        );
        (diff, p)
    };
    let (diff_unknown, p_unknown) = report("unknown user vs wrong password", unknown, wrong);
    let (diff_disabled, p_disabled) = report("disabled user vs wrong password", disabled, wrong);
    for (label, diff, p) in [
        ("an unknown user", diff_unknown, p_unknown),
        ("a disabled user", diff_disabled, p_disabled),
    ] {
        assert!(
            diff.abs() < 0.35,
            "the median failed login of {label} differs from a wrong password's by {:+.1} %: the \
             failure paths do not cost the same (is one skipping its argon2id verification?)",
            diff * 100.0
        );
        assert!(
            p > 1e-4,
            "the login times of {label} and of a wrong password differ (Mann–Whitney p = {p:.2e})"
        );
    }
    server.stop().await;
}
