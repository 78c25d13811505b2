//! The MCP tools: `whoami`, which shows what the caller's token says, and `add`, a tool that needs no identity at
//! all. Both run only for a request the bearer layer let through.
//!
//! rmcp hands a tool the HTTP request it came with (`Extension<Parts>`); the layer put the verified token there
//! (`Authenticated`). A tool reads the token of *this* request, never one remembered from the session's
//! `initialize`: an MCP session id is not a credential, and every request carries its own token.

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;
use waxseal_axum::Authenticated;

use crate::Access;

/// The tools this server offers.
#[derive(Debug, Clone)]
pub struct Tools {
    tool_router: ToolRouter<Self>,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            tool_router: Self::tool_router(),
        }
    }
}

/// The arguments of `add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddArguments {
    /// The first number.
    pub a: i64,
    /// The second number.
    pub b: i64,
}

#[tool_router]
impl Tools {
    /// The caller as the token names it: subject, scopes, the client it was issued to and its audience (this
    /// server's URL, RFC 8707), as a JSON object.
    #[tool(
        description = "Who is calling: the subject, scopes, client and audience of the access token"
    )]
    async fn whoami(&self, Extension(parts): Extension<Parts>) -> Result<String, ErrorData> {
        let auth = parts.extensions.get::<Authenticated>().ok_or_else(|| {
            // Only a router without the layer gets here: a wiring mistake, not the caller's.
            ErrorData::internal_error(
                "no verified token: the bearer layer is not in front of this tool",
                None,
            )
        })?;
        let claims = auth
            .claims::<Access>()
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(json!({
            "sub": auth.subject(),
            "scope": claims.custom.scope,
            "client_id": claims.custom.client_id,
            "aud": claims.registered.aud,
        })
        .to_string())
    }

    /// `a + b`, refused rather than wrapped on overflow.
    #[tool(description = "Add two integers")]
    async fn add(
        &self,
        Parameters(AddArguments { a, b }): Parameters<AddArguments>,
    ) -> Result<String, ErrorData> {
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| ErrorData::invalid_params("the sum does not fit in 64 bits", None))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("An example MCP server protected by waxseal: `whoami` and `add`.")
    }
}
