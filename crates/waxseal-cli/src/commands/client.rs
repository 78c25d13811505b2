//! `waxseal client …`: OAuth client administration against the data directory `waxseal serve` uses.

use std::process::ExitCode;

use anyhow::anyhow;
use waxseal::Algorithm;
use waxseal::jwe::ContentEncryption;
use waxseal_server::{
    ClientPermissions, DEFAULT_ID_TOKEN_ENC, GrantType, IdTokenEncryption, WebClient,
};

use super::serve::{admin_config, init_logging};
use super::user::with_service;
use crate::cli::{ClientAddArgs, ClientIdArgs, DataDirArg, Grant};
use crate::{Failure, Outcome};

fn grant_type(grant: Grant) -> GrantType {
    match grant {
        Grant::Password => GrantType::Password,
        Grant::RefreshToken => GrantType::RefreshToken,
        Grant::ClientCredentials => GrantType::ClientCredentials,
        Grant::AuthorizationCode => GrantType::AuthorizationCode,
    }
}

pub fn add(args: &ClientAddArgs) -> Outcome {
    init_logging();
    let mut grants: Vec<GrantType> = args.grants.iter().copied().map(grant_type).collect();
    if grants.is_empty() && !args.redirect_uris.is_empty() {
        grants = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    }
    if grants.is_empty() {
        grants.push(GrantType::ClientCredentials);
    }
    let id_token_alg = args
        .id_token_alg
        .as_deref()
        .map(Algorithm::from_name)
        .transpose()
        .map_err(|e| {
            Failure::usage(anyhow!(
                "--id-token-alg: {e}; RS256 or the server's signing algorithm"
            ))
        })?;
    let id_token_encryption = id_token_encryption(args)?;
    let web = WebClient {
        redirect_uris: args.redirect_uris.clone(),
        post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
        web_origins: args.web_origins.clone(),
        public: args.public,
        first_party: args.first_party,
        id_token_alg,
        pkce_exempt: args.pkce_exempt,
        id_token_encryption,
        // The operator's client never expires.
        registered: false,
        last_used_at: None,
    };
    let client = with_service(admin_config(&args.data)?, async |service| {
        let permissions = ClientPermissions {
            may_introspect: args.may_introspect,
            encrypt_access_tokens: args.encrypt_access_tokens,
            require_dpop: args.require_dpop,
            web: web.clone(),
        };
        service
            .add_client_with_permissions(&args.name, &grants, &args.scopes, permissions)
            .await
    })?;
    let grants: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
    println!(
        "added client {:?} (grants: {}{})",
        args.name,
        grants.join(" "),
        if args.may_introspect {
            "; may introspect every client's access tokens"
        } else {
            ""
        }
    );
    println!("client_id:     {}", client.client_id);
    if args.public {
        eprintln!(
            "A public client has no secret: it authenticates with its client_id and proves each code with PKCE."
        );
    } else {
        println!("client_secret: {}", client.client_secret.as_str());
        eprintln!(
            "The secret is shown only this once and stored only as a hash: keep it in a secret store now."
        );
    }
    let origins = waxseal_server::allowed_origins(&web);
    if !origins.is_empty() {
        let from = if args.web_origins.is_empty() {
            " (its redirect URIs' origins; --web-origin sets others)"
        } else {
            ""
        };
        eprintln!(
            "Pages on {} may read its answers from the token, userinfo and revoke endpoints (CORS){from}.",
            origins.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--encryption-key` (a JWK file, or the JWK inline) and `--encryption-enc`, read and parsed; the key itself is
/// checked by the server (public, asymmetric, for encryption).
fn id_token_encryption(args: &ClientAddArgs) -> Result<Option<IdTokenEncryption>, Failure> {
    let Some(key) = args.encryption_key.as_deref() else {
        return Ok(None);
    };
    let bytes = if key.trim_start().starts_with('{') {
        key.as_bytes().to_vec()
    } else {
        crate::input::file(std::path::Path::new(key), "--encryption-key file")?
    };
    let jwks = crate::keyfile::parse_keys(&bytes)
        .map_err(|e| Failure::usage(anyhow!("--encryption-key: {e}")))?;
    let [jwk] = &jwks[..] else {
        return Err(Failure::usage(anyhow!(
            "--encryption-key holds {} keys; give the one the client's ID tokens are encrypted to",
            jwks.len()
        )));
    };
    let enc = match args.encryption_enc.as_deref() {
        None => DEFAULT_ID_TOKEN_ENC,
        Some(name) => ContentEncryption::from_name(name).map_err(|e| {
            Failure::usage(anyhow!(
                "--encryption-enc: {e}; one of {}",
                waxseal_server::id_token_encryption_encs().join(", ")
            ))
        })?,
    };
    Ok(Some(IdTokenEncryption {
        jwk: jwk.to_json(),
        enc,
    }))
}

pub fn list(data: &DataDirArg) -> Outcome {
    init_logging();
    let clients = with_service(admin_config(data)?, async |s| s.list_clients().await)?;
    if clients.is_empty() {
        eprintln!("no clients yet; add one with `waxseal client add NAME --grant GRANT`");
        return Ok(ExitCode::SUCCESS);
    }
    let id_width = clients
        .iter()
        .map(|c| c.client_id.chars().count())
        .max()
        .unwrap_or(0)
        .max("CLIENT_ID".len());
    let name_width = clients
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    // Each client's web origins (CORS), registered or by default, comma-separated; "-" for none.
    let origins: Vec<String> = clients
        .iter()
        .map(|c| match waxseal_server::allowed_origins(&c.web) {
            origins if origins.is_empty() => "-".to_owned(),
            origins => origins.join(","),
        })
        .collect();
    let origins_width = origins
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("WEB_ORIGINS".len());
    println!(
        "{:<id_width$}  {:<name_width$}  {:<23}  {:<40}  {:<10}  {:<8}  {:<8}  {:<26}  {:<9}  {:<8}  \
         {:<origins_width$}  SCOPES",
        "CLIENT_ID",
        "NAME",
        "CREATED",
        "GRANTS",
        "INTROSPECT",
        "ID_TOKEN",
        "PKCE",
        "ID_TOKEN_ENCRYPTION",
        "AT_ENCRYPT",
        "DPOP",
        "WEB_ORIGINS"
    );
    for (client, origins) in clients.into_iter().zip(origins) {
        let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let scopes = if client.scopes.is_empty() {
            "-".to_owned()
        } else {
            client.scopes.join(" ")
        };
        // Every client introspects its own tokens; "all" marks a resource server that may see every client's.
        let introspect = if client.may_introspect { "all" } else { "own" };
        // Only a client that signs people in has ID tokens and PKCE; "default" is the server's signing algorithm,
        // whichever it is when the ID token is signed.
        let signs_in = client.grant_types.contains(&GrantType::AuthorizationCode);
        let id_token = match client.web.id_token_alg {
            _ if !signs_in => "-".to_owned(),
            Some(alg) => alg.to_string(),
            None => "default".to_owned(),
        };
        let pkce = match (signs_in, client.web.pkce_exempt) {
            (false, _) => "-",
            (true, true) => "exempt",
            (true, false) => "required",
        };
        // The key-management algorithm and content encryption of encrypted ID tokens; "server" marks access tokens
        // encrypted under the server's own key.
        let id_token_encryption = client.web.id_token_encryption.as_ref().map_or_else(
            || "-".to_owned(),
            |e| {
                let alg = waxseal::Jwk::from_json(&e.jwk)
                    .ok()
                    .and_then(|jwk| jwk.alg)
                    .unwrap_or_default();
                format!("{alg}/{}", e.enc)
            },
        );
        let at_encrypt = if client.encrypt_access_tokens {
            "server"
        } else {
            "-"
        };
        let dpop = if client.require_dpop { "required" } else { "-" };
        println!(
            "{:<id_width$}  {:<name_width$}  {:<23}  {:<40}  {introspect:<10}  {id_token:<8}  {pkce:<8}  \
             {id_token_encryption:<26}  {at_encrypt:<9}  {dpop:<8}  {origins:<origins_width$}  {scopes}",
            client.client_id,
            client.name,
            crate::time::utc(client.created_at),
            grants.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delete(args: &ClientIdArgs) -> Outcome {
    init_logging();
    with_service(admin_config(&args.data)?, async |s| {
        s.delete_client(&args.client_id).await
    })?;
    println!(
        "deleted client {}; every session it started has ended and its tokens are refused",
        args.client_id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn rotate_secret(args: &ClientIdArgs) -> Outcome {
    init_logging();
    let client = with_service(admin_config(&args.data)?, async |s| {
        s.rotate_client_secret(&args.client_id).await
    })?;
    println!("rotated the secret of client {}", client.client_id);
    println!("client_id:     {}", client.client_id);
    println!("client_secret: {}", client.client_secret.as_str());
    eprintln!(
        "The old secret no longer works. The new one is shown only this once and stored only as a hash: keep it in \
         a secret store now."
    );
    Ok(ExitCode::SUCCESS)
}
