//! Pruning with an injected clock on a real SQLite file: what goes, what stays, and that theft detection outlives
//! a prune for as long as the session does.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TestClock, TestServer, assert_invalid_token, db, tokens};
use waxseal_server::PruneReport;
use waxseal_server::store::{
    DenylistStore as _, Prunable, PruneStore as _, RefreshTokenRecord, Rotation, SessionStore as _,
    Store as _, TokenFamily, UserStore as _,
};

const DAY: Duration = Duration::from_secs(24 * 3600);
/// The longest access-token lifetime plus the verifier's leeway.
const GRACE: Duration = Duration::from_secs(3600 + 60);

async fn rows(dir: &Path) -> [i64; 5] {
    [
        db::count(dir, "refresh_tokens").await,
        db::count(dir, "token_families").await,
        db::count(dir, "denied_jtis").await,
        db::count(dir, "denied_sids").await,
        db::count(dir, "user_not_before").await,
    ]
}

#[tokio::test]
async fn consumed_refresh_tokens_outlive_their_idle_limit_so_reuse_is_still_detected() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("alice", &[]).await;
    let (_, r0) = server.login_ok("alice").await;
    let (_, r1) = tokens(&server.refresh(&r0).await.1);
    let (_, r2) = tokens(&server.refresh(&r1).await.1);
    assert_eq!(rows(dir.path()).await[..2], [3, 1]);

    // Past the 7-day idle limit of all three, well within the session's 30 days.
    clock.advance(8 * DAY);
    let (live_access, live_refresh) = server.login_ok("alice").await;
    let report = server.service.prune().await.unwrap();
    assert_eq!(
        report,
        PruneReport {
            refresh_tokens: 1,
            batches: 8,
            ..PruneReport::default()
        },
        "only the unused, expired r2 goes"
    );
    assert_eq!(
        rows(dir.path()).await[..2],
        [3, 2],
        "r0 and r1 stay (consumed), the new session's token stays (live)"
    );
    let (status, body) = server.refresh(&r2).await;
    assert_eq!(status, 401, "{body}");

    // The thief (or the victim) presents r0 long after its idle limit: still detected, the family revoked.
    let (status, body) = server.refresh(&r0).await;
    common::assert_reuse_refused(status, &body);
    assert_eq!(
        db::scalar(
            dir.path(),
            "SELECT count(*) FROM token_families WHERE revoked_at IS NOT NULL"
        )
        .await,
        1
    );
    // The other session is untouched by the prune and by the theft response.
    assert_eq!(server.get_with("/api/me", &live_access).await.0, 200);
    assert_eq!(server.refresh(&live_refresh).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn ended_sessions_go_with_their_tokens_once_their_last_access_tokens_have_expired() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("bob", &[]).await;
    let (_, r0) = server.login_ok("bob").await;
    clock.advance(DAY);
    let (status, body) = server.refresh(&r0).await;
    assert_eq!(status, 200, "{body}");

    // Day 30: the session has ended (its absolute limit), but an access token issued just before is still valid.
    clock.advance(29 * DAY);
    let report = server.service.prune().await.unwrap();
    assert_eq!(
        (report.refresh_tokens, report.token_families),
        (1, 0),
        "only the unused successor (idle since day 1) goes"
    );
    assert_eq!(
        rows(dir.path()).await[..2],
        [1, 1],
        "r0 (consumed) and the family stay"
    );
    // Reuse within the grace still revokes the family, which denies its last access tokens.
    let (status, body) = server.refresh(&r0).await;
    common::assert_reuse_refused(status, &body);
    assert_eq!(rows(dir.path()).await[3], 1, "the session's sid is denied");

    clock.advance(GRACE);
    let report = server.service.prune().await.unwrap();
    assert_eq!(
        report,
        PruneReport {
            denied_sids: 1,
            batches: 8,
            ..PruneReport::default()
        },
        "one second short of the grace only the sid denial (15 min + 60 s) has run out"
    );
    clock.advance(Duration::from_secs(1));
    let report = server.service.prune().await.unwrap();
    assert_eq!(
        (report.refresh_tokens, report.token_families),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(rows(dir.path()).await, [0, 0, 0, 0, 0]);
    let (status, body) = server.refresh(&r0).await;
    assert_eq!(status, 401, "a pruned session's tokens are refused: {body}");
    server.stop().await;
}

#[tokio::test]
async fn denylist_and_not_before_rows_stay_exactly_as_long_as_a_token_they_refuse_can_be_valid() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("carol", &[]).await;
    server.add_user("dave", &[]).await;
    let (carol, _) = server.login_ok("carol").await;
    let (dave, _) = server.login_ok("dave").await;
    assert_eq!(server.logout(&carol, None, false).await, 204);
    server
        .service
        .set_password("dave", "a brand new passphrase")
        .await
        .unwrap();
    assert_eq!(rows(dir.path()).await[2..], [1, 2, 1]);

    // 959 s: carol's token (exp 900 s, leeway 60 s) would still verify but for its denial, which must stay.
    clock.advance(Duration::from_secs(959));
    assert_eq!(server.service.prune().await.unwrap().total(), 0);
    server.stop().await;
    // A restart loads the denylist from the store: the kept rows keep both tokens refused.
    let server = TestServer::start(dir.path(), clock.clone()).await;
    for token in [&carol, &dave] {
        let (status, challenge, _) = server.get_with("/api/me", token).await;
        assert_invalid_token(status, challenge.as_deref(), "revoked");
    }

    // 961 s: the denials have run out (the tokens have expired) and go; dave's "not before" stays an hour longer.
    clock.advance(Duration::from_secs(2));
    let report = server.service.prune().await.unwrap();
    assert_eq!(
        (report.denied_jtis, report.denied_sids),
        (1, 2),
        "{report:?}"
    );
    assert_eq!(rows(dir.path()).await[2..], [0, 0, 1]);
    let (status, challenge, _) = server.get_with("/api/me", &carol).await;
    assert_invalid_token(status, challenge.as_deref(), "expired");

    clock.advance(Duration::from_secs(GRACE.as_secs() - 961));
    assert_eq!(server.service.prune().await.unwrap().user_not_before, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(server.service.prune().await.unwrap().user_not_before, 1);
    assert_eq!(
        rows(dir.path()).await,
        [2, 2, 0, 0, 0],
        "the revoked sessions live on until they end"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_backlog_is_deleted_in_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    let now = waxseal_server::Clock::now(clock.as_ref()).secs();
    let store = waxseal_server::store::sqlite::SqliteStore::open(&dir.path().join("waxseal.db"))
        .await
        .unwrap();
    for i in 0..7 {
        store.deny_jti(&format!("old-{i}"), now + 10).await.unwrap();
    }
    for i in 0..3 {
        store
            .deny_jti(&format!("live-{i}"), now + 1000)
            .await
            .unwrap();
    }
    // The store's contract: never more than the limit in one write.
    assert_eq!(
        store
            .prune_batch(Prunable::DeniedJtis, now + 100, 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(db::count(dir.path(), "denied_jtis").await, 8);
    store.close().await;

    clock.advance(Duration::from_secs(100));
    let report = server.service.prune_in_batches(2).await.unwrap();
    assert_eq!(report.denied_jtis, 5);
    // 2 + 2 + 1 for the jtis, one (empty) batch for each of the five other kinds.
    assert_eq!(report.batches, 3 + 7, "{report:?}");
    let left: Vec<String> = sqlx::query_scalar("SELECT jti FROM denied_jtis ORDER BY jti")
        .fetch_all(&db::open(dir.path()).await)
        .await
        .unwrap();
    assert_eq!(left, ["live-0", "live-1", "live-2"]);
    server.stop().await;
}

#[tokio::test]
async fn ended_sessions_with_many_tokens_are_deleted_a_bounded_batch_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("frank", &[]).await;
    let now = waxseal_server::Clock::now(clock.as_ref()).secs();
    let store = waxseal_server::store::sqlite::SqliteStore::open(&dir.path().join("waxseal.db"))
        .await
        .unwrap();
    let user = store.user_by_name("frank").await.unwrap().unwrap();
    // Seven sessions that ended at `now + 10`, each with five refresh tokens (four consumed), and one still live.
    for session in 0..8_u64 {
        let family = TokenFamily {
            sid: format!("sid-{session}"),
            user_id: user.id.clone(),
            created_at: now,
            expires_at: if session < 7 { now + 10 } else { now + 100_000 },
            revoked_at: None,
            client_id: None,
            scope: None,
            dpop_jkt: None,
            resource: None,
        };
        let record = |n: u64| RefreshTokenRecord {
            hash: [u8::try_from(session * 10 + n).unwrap(); 32],
            sid: family.sid.clone(),
            created_at: now,
            expires_at: now + 50_000,
        };
        store.create_session(&family, &record(0)).await.unwrap();
        for n in 1..5 {
            let presented = [u8::try_from(session * 10 + n - 1).unwrap(); 32];
            let rotated = store
                .rotate_refresh_token(&presented, &record(n), now, now + 1000)
                .await
                .unwrap();
            assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
        }
    }
    store.close().await;
    assert_eq!(rows(dir.path()).await[..2], [40, 8]);

    clock.advance(Duration::from_secs(10) + GRACE + Duration::from_secs(1));
    let report = server.service.prune_in_batches(3).await.unwrap();
    assert_eq!(
        (report.refresh_tokens, report.token_families),
        (35, 7),
        "{report:?}"
    );
    assert_eq!(
        rows(dir.path()).await[..2],
        [5, 1],
        "the live session is whole"
    );
    // Three rows a write: the 7 unused last tokens (their idle limit capped at their session's end) in 3 writes,
    // the 28 consumed ones in 10 rounds of a tokens write and a families write, one write for each other kind.
    assert_eq!(report.batches, 3 + 2 * 10 + 5, "{report:?}");
    server.stop().await;
}

#[tokio::test]
async fn serve_prunes_when_it_starts_and_then_periodically() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = TestServer::start(dir.path(), clock.clone()).await;
    server.add_user("erin", &[]).await;
    let (access, _) = server.login_ok("erin").await;
    assert_eq!(server.logout(&access, None, false).await, 204);
    server.stop().await;
    assert_eq!(rows(dir.path()).await, [1, 1, 1, 1, 0]);

    clock.advance(31 * DAY);
    let server = TestServer::start(dir.path(), clock.clone()).await;
    // The first pass runs as the server starts serving, on its own task.
    let started = Instant::now();
    while rows(dir.path()).await != [0, 0, 0, 0, 0] {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not pruned: {:?}",
            rows(dir.path()).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}
