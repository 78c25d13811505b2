//! The store's gate seen from outside: once a probe finds PostgreSQL unreachable, requests that need it are answered
//! 503 with `Retry-After` at once instead of after the pool's acquire timeout, access tokens go on verifying,
//! `/readyz` and `/metrics` say so, and service resumes soon after the database is reachable again.
//!
//! The outage is a loopback TCP proxy between the server and the machine's PostgreSQL that cuts every connection
//! and then accepts new ones without ever forwarding a byte: a network partition, the case where nothing but a
//! timeout ends a wait (the machine's PostgreSQL itself is never touched; `waxseal-cli`'s `database_down` test
//! kills a cluster of its own).

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestClock, TestServer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use waxseal_server::Database;
use waxseal_server::store::postgres::ACQUIRE_TIMEOUT;
use waxseal_testkit::postgres as pg;

/// What the proxy does with connections.
#[derive(Default)]
struct Links {
    /// Cut: hold accepted connections open without forwarding anything.
    partitioned: bool,
    /// The forwarding tasks, aborted (both sockets closed) when the partition starts.
    forwarding: Vec<AbortHandle>,
    /// Connections accepted during the partition, closed when it ends.
    held: Vec<TcpStream>,
}

/// A TCP proxy on loopback in front of `upstream` that can partition the network.
struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Links>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let links = Arc::new(Mutex::new(Links::default()));
        let shared = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut links = shared.lock().unwrap();
                if links.partitioned {
                    links.held.push(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links.forwarding.push(task.abort_handle());
            }
        });
        Proxy {
            addr,
            links,
            accept,
        }
    }

    /// Cuts every connection and black-holes new ones.
    fn partition(&self) {
        let mut links = self.links.lock().unwrap();
        links.partitioned = true;
        for link in links.forwarding.drain(..) {
            link.abort();
        }
    }

    /// Forwards new connections again; the black-holed ones are closed.
    fn heal(&self) {
        let mut links = self.links.lock().unwrap();
        links.partitioned = false;
        links.held.clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        let mut links = self.links.lock().unwrap();
        for link in links.forwarding.drain(..) {
            link.abort();
        }
    }
}

/// `url` with its host and port replaced by `addr`'s.
fn through(url: &str, addr: SocketAddr) -> String {
    let mut url = url::Url::parse(url).expect("a database URL");
    url.set_host(Some(&addr.ip().to_string())).expect("a host");
    url.set_port(Some(addr.port())).expect("a port");
    url.to_string()
}

/// Where `url`'s server listens.
fn server_addr(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).expect("a database URL");
    let host = url.host_str().expect("a host").to_owned();
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), url.port().unwrap_or(5432)))
        .expect("resolve the database host")
        .next()
        .expect("an address")
}

/// The value of the series `name` (exactly as rendered) in `GET /metrics`, a whole number.
async fn metric(server: &TestServer, name: &str) -> u64 {
    let text = server.metrics().await;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
        .parse()
        .expect("a whole number")
}

async fn readyz(server: &TestServer) -> (u16, Value) {
    let response = server
        .client
        .get(server.management_at("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    common::status_and_json(response).await
}

/// A POST timed: status, whether it had a numeric `Retry-After`, how long it took.
async fn timed_post(server: &TestServer, path: &str, body: &Value) -> (u16, bool, Duration) {
    let start = Instant::now();
    let response = server
        .client
        .post(server.at(path))
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u64>().is_ok());
    let _ = response.bytes().await;
    (status, retry_after, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_answered_at_once_until_a_probe_reaches_it() {
    let Some(db) = pg::TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(server_addr(&db.url)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = waxseal_server::Config {
        database: Database::Postgres(through(&db.url, proxy.addr)),
        ..common::config(dir.path())
    };
    let server = TestServer::start_with(config, TestClock::new()).await;
    server.add_user("alice", &[]).await;
    let (access, refresh) = server.login_ok("alice").await;
    assert_eq!(readyz(&server).await.1["database"], "up");
    assert_eq!(metric(&server, "waxseal_database_up").await, 1);

    // The partition: the first operations wait for the pool (the reload loop's every second is enough to
    // notice), a probe times out, and the gate opens.
    proxy.partition();
    let cut = Instant::now();
    let deadline = cut + Duration::from_secs(30);
    let body = loop {
        let (status, body) = readyz(&server).await;
        if status == 503
            && body["database"]
                .as_str()
                .is_some_and(|d| d.starts_with("unreachable since "))
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the gate never opened: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "gate open {:?} after the partition: /readyz {body}",
        cut.elapsed()
    );
    assert_eq!(body["status"], "unavailable");
    // The public listener's 503 says only that: whether and since when the database is down is the management
    // listener's to tell.
    let response = server
        .client
        .get(server.at("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    let (status, public) = common::status_and_json(response).await;
    assert_eq!(
        (status, public),
        (503, serde_json::json!({ "status": "unavailable" }))
    );

    // Each request that needs the database is refused at once — without the gate each would wait the pool's
    // 3 s — and verification, which needs none, goes on.
    let refresh_body = serde_json::json!({ "refresh_token": refresh });
    let login_body = serde_json::json!({ "username": "alice", "password": common::PASSWORD });
    let mut took = Vec::new();
    for round in 0..20 {
        let (path, body) = if round % 2 == 0 {
            ("/refresh", &refresh_body)
        } else {
            ("/login", &login_body)
        };
        let (status, retry_after, elapsed) = timed_post(&server, path, body).await;
        assert_eq!(status, 503, "{path} while the database is unreachable");
        assert!(
            retry_after,
            "{path}: a 503 comes with Retry-After in seconds"
        );
        took.push(elapsed);
        let (status, _, body) = server.get_with("/api/me", &access).await;
        assert_eq!(status, 200, "verification goes on: {body}");
    }
    took.sort();
    let slowest = *took.last().unwrap();
    eprintln!(
        "503s while the gate is open: median {:?}, slowest {slowest:?}",
        took[took.len() / 2]
    );
    assert!(
        slowest < ACQUIRE_TIMEOUT / 3,
        "a 503 took {slowest:?}: it waited for the pool instead of being answered at once"
    );
    assert_eq!(metric(&server, "waxseal_database_up").await, 0);
    let refused = metric(&server, "waxseal_database_refused_total").await;
    assert!(refused >= 20, "refused {refused}");

    // The partition ends: a probe gets through within its interval and the next refresh is served, with the
    // very token whose refreshes were answered 503 (they changed nothing).
    proxy.heal();
    let healed = Instant::now();
    let deadline = healed + Duration::from_secs(20);
    let (status, back_after) = loop {
        let (status, _, elapsed) = timed_post(&server, "/refresh", &refresh_body).await;
        if status != 503 {
            break (status, healed.elapsed().saturating_sub(elapsed));
        }
        assert!(
            Instant::now() < deadline,
            "no refresh served after the partition ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("service back {back_after:?} after the partition ended");
    assert_eq!(
        status, 200,
        "the refresh token refused with 503 is still good"
    );
    assert!(
        back_after < Duration::from_secs(2),
        "service came back {back_after:?} after the database did"
    );
    // Ten logins were answered 503 (more than the account's free failures): none checked a password, so none
    // counts against the account.
    let (status, body) = server.login("alice", common::PASSWORD).await;
    assert_eq!(
        status, 200,
        "logins refused for the outage throttle the account: {body}"
    );
    let (status, body) = readyz(&server).await;
    assert_eq!(
        (status, &body["database"]),
        (200, &Value::from("up")),
        "{body}"
    );
    assert_eq!(metric(&server, "waxseal_database_up").await, 1);
    server.stop().await;
}

/// A server whose connection slots are all taken refuses a fresh connection (53300) but still answers the pool's:
/// the probe counts it as reachable, so a full server never opens the gate on an instance that can still serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_out_of_connection_slots_is_reachable_for_the_probe() {
    use sqlx::Connection as _;
    use waxseal_server::store::Store as _;
    use waxseal_server::store::postgres::PostgresStore;

    let Some(db) = pg::TestDatabase::create().await else {
        return;
    };
    // Superusers ignore connection limits: the store connects as a role of its own, limited to one connection.
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    let role = format!("waxseal_probe_{database}");
    // On the server's admin database, so that dropping the test database does not cut it before the role goes.
    let mut admin = sqlx::postgres::PgConnection::connect(&pg::admin_url())
        .await
        .unwrap();
    let mut owner = sqlx::postgres::PgConnection::connect(&db.url)
        .await
        .unwrap();
    let run = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    run(format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"))
        .execute(&mut admin)
        .await
        .unwrap();
    run(format!("ALTER DATABASE {database} OWNER TO {role}"))
        .execute(&mut admin)
        .await
        .unwrap();
    run(format!("ALTER SCHEMA public OWNER TO {role}"))
        .execute(&mut owner)
        .await
        .unwrap();
    let _ = owner.close().await;
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&role).unwrap();
    let store = PostgresStore::open(url.as_str(), 1).await.unwrap();
    store.ping().await.unwrap();
    let fresh = sqlx::postgres::PgConnection::connect(url.as_str()).await;
    assert!(
        fresh.is_err(),
        "the role's one connection slot is the pool's"
    );
    let probed = tokio::time::timeout(Duration::from_secs(5), store.probe()).await;
    assert!(
        matches!(probed, Ok(Ok(()))),
        "a server out of slots whose pooled connection answers is reachable: {probed:?}"
    );
    store.close().await;
    drop(db);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
}
