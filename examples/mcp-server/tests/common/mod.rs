//! What the tests share: a waxseal server and the example MCP server, each on a loopback port of this process.
//!
//! The waxseal server is set up as the README tells an operator to: registration open (`--allow-registration`)
//! with `mcp:tools` among the scopes a registered client may have (`--registration-scope`), the MCP server's URL
//! registered as a resource accepting `mcp:tools` (`waxseal resource add`), and alice, who holds that scope.

#![allow(dead_code, clippy::unwrap_used)]

pub mod metadata_document;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use waxseal_example_mcp_server::{Config, SCOPE, app};
use waxseal_server::{AuthService, Server};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

pub async fn bind() -> TcpListener {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// A waxseal server at its own loopback URL, with its SQLite database in a temporary directory.
pub struct Waxseal {
    pub issuer: String,
    pub service: Arc<AuthService>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<waxseal_server::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Waxseal {
    /// The server, with alice (scope `mcp:tools`); no resource registered yet.
    pub async fn start() -> Waxseal {
        Self::start_with(|config| config).await
    }

    /// [`Waxseal::start`] with `configure` applied to the configuration over the tests' own settings.
    pub async fn start_with(
        configure: impl FnOnce(waxseal_server::Config) -> waxseal_server::Config,
    ) -> Waxseal {
        let dir = tempfile::tempdir().unwrap();
        let listener = bind().await;
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let config = configure(waxseal_server::Config {
            issuer: issuer.clone(),
            data_dir: dir.path().to_path_buf(),
            allow_registration: true,
            registration_scope: SCOPE.into(),
            ..waxseal_server::Config::default()
        });
        let server = Server::open(config).await.unwrap();
        let service = server.service().clone();
        service
            .add_user(USER, PASSWORD, &[SCOPE.into()])
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Waxseal {
            issuer,
            service,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// Registers `uri` as a resource accepting `mcp:tools`, as `waxseal resource add URI --scope mcp:tools` does.
    pub async fn add_resource(&self, uri: &str) {
        self.service
            .add_resource(uri, &[SCOPE.into()])
            .await
            .unwrap();
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// The example MCP server on a loopback port, trusting `issuer`; aborted when dropped.
pub struct McpServer {
    /// `http://127.0.0.1:PORT/mcp`: the URL clients call and the resource its tokens are for.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl McpServer {
    pub async fn start(issuer: &str) -> McpServer {
        let listener = bind().await;
        let listen = listener.local_addr().unwrap();
        let config = Config {
            issuer: issuer.to_owned(),
            url: format!("http://{listen}/mcp"),
            listen,
        };
        let router = app(&config).await.unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        McpServer {
            url: config.url,
            task,
        }
    }

    /// `scheme://host:port` of [`McpServer::url`].
    pub fn origin(&self) -> &str {
        self.url.trim_end_matches("/mcp")
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
