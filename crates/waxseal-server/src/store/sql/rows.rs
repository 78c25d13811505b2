//! Reading a result row of either backend into the store's types: [`Columns`], which reads a column by name as
//! text, integer, time, digest or word list, and one mapper per record, each reading the columns that the
//! `SELECT`s of [`super`] and its export name.

use sqlx::{ColumnIndex, Decode, Row, Type};
use waxseal::Algorithm;
use waxseal::jwe::ContentEncryption;

use super::backend;
use crate::store::{
    Client, FamilyRotation, GrantType, IdTokenEncryption, Profile, RefreshTokenRecord, Resource,
    RevokedKey, StoreError, StoreResult, StoredKey, StoredRefreshToken, TokenFamily, User,
    WebClient, opt_secs, parent_digest, secs,
};

/// A result row of either backend, read by column name as the types the store keeps.
pub(crate) trait Columns {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    fn int(&self, name: &str) -> StoreResult<i64>;
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, name: &str) -> StoreResult<bool>;
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>>;
    fn opt_bytes(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// A stored time, as Unix seconds.
    fn time(&self, name: &str) -> StoreResult<u64> {
        self.int(name).map(secs)
    }

    /// A stored time that may be `NULL`, as Unix seconds.
    fn opt_time(&self, name: &str) -> StoreResult<Option<u64>> {
        self.opt_int(name).map(opt_secs)
    }

    /// A SHA-256 digest; `what` names it in the error when the column holds another length.
    fn digest(&self, name: &str, what: &str) -> StoreResult<[u8; 32]> {
        self.bytes(name)?
            .try_into()
            .map_err(|_| backend(format!("{what} is not 32 bytes")))
    }

    /// A space-separated list.
    fn words(&self, name: &str) -> StoreResult<Vec<String>> {
        Ok(self
            .text(name)?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }
}

impl<R: Row> Columns for R
where
    for<'a> &'a str: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, name: &str) -> StoreResult<String> {
        self.try_get(name).map_err(backend)
    }
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        self.try_get(name).map_err(backend)
    }
    fn int(&self, name: &str) -> StoreResult<i64> {
        self.try_get(name).map_err(backend)
    }
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
        self.try_get(name).map_err(backend)
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.try_get(name).map_err(backend)
    }
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        self.try_get(name).map_err(backend)
    }
    fn opt_bytes(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.try_get(name).map_err(backend)
    }
}

/// The columns of a row whose names begin with a prefix, read without it: one record's columns in a join that
/// reads two records with column names in common (`id`, `created_at`).
pub(crate) struct Prefixed<'r, R> {
    row: &'r R,
    prefix: &'static str,
}

impl<'r, R: Columns> Prefixed<'r, R> {
    pub(crate) fn new(row: &'r R, prefix: &'static str) -> Self {
        Prefixed { row, prefix }
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn text(&self, name: &str) -> StoreResult<String> {
        self.row.text(&self.name(name))
    }
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        self.row.opt_text(&self.name(name))
    }
    fn int(&self, name: &str) -> StoreResult<i64> {
        self.row.int(&self.name(name))
    }
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
        self.row.opt_int(&self.name(name))
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.row.flag(&self.name(name))
    }
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        self.row.bytes(&self.name(name))
    }
    fn opt_bytes(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.row.opt_bytes(&self.name(name))
    }
}

pub(crate) fn user(row: &impl Columns) -> StoreResult<User> {
    Ok(User {
        id: row.text("id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        disabled: row.flag("disabled")?,
        scopes: row.words("scopes")?,
        created_at: row.time("created_at")?,
        profile: Profile {
            email: row.opt_text("email")?,
            name: row.opt_text("display_name")?,
        },
    })
}

pub(crate) fn client(row: &impl Columns) -> StoreResult<Client> {
    Ok(Client {
        client_id: row.text("client_id")?,
        secret_hash: row.digest("secret_hash", "a client secret hash")?,
        name: row.text("name")?,
        grant_types: row
            .text("grant_types")?
            .split_whitespace()
            .filter_map(GrantType::parse)
            .collect(),
        scopes: row.words("scopes")?,
        created_at: row.time("created_at")?,
        may_introspect: row.flag("may_introspect")?,
        web: WebClient {
            redirect_uris: row.words("redirect_uris")?,
            post_logout_redirect_uris: row.words("post_logout_redirect_uris")?,
            web_origins: row.words("web_origins")?,
            public: row.flag("public_client")?,
            first_party: row.flag("first_party")?,
            id_token_alg: row
                .opt_text("id_token_alg")?
                .map(|name| {
                    Algorithm::from_name(&name).map_err(|_| {
                        StoreError::Backend(format!(
                            "a client's id_token_alg {name:?} is not a JWS algorithm"
                        ))
                    })
                })
                .transpose()?,
            pkce_exempt: row.flag("pkce_exempt")?,
            id_token_encryption: id_token_encryption(row)?,
            registered: row.flag("registered")?,
            last_used_at: row.opt_time("last_used_at")?,
        },
        encrypt_access_tokens: row.flag("encrypt_access_tokens")?,
        require_dpop: row.flag("require_dpop")?,
    })
}

/// A client's ID-token encryption: its key and `enc` both, or neither.
fn id_token_encryption(row: &impl Columns) -> StoreResult<Option<IdTokenEncryption>> {
    match (
        row.opt_text("encryption_jwk")?,
        row.opt_text("encryption_enc")?,
    ) {
        (None, None) => Ok(None),
        (Some(jwk), Some(enc)) => {
            let enc = ContentEncryption::from_name(&enc).map_err(|_| {
                StoreError::Backend(format!(
                    "a client's encryption_enc {enc:?} is not a JWE content encryption"
                ))
            })?;
            Ok(Some(IdTokenEncryption { jwk, enc }))
        }
        _ => Err(StoreError::Backend(
            "a client has one of encryption_jwk and encryption_enc without the other".into(),
        )),
    }
}

pub(crate) fn family(row: &impl Columns) -> StoreResult<TokenFamily> {
    Ok(TokenFamily {
        sid: row.text("sid")?,
        user_id: row.text("user_id")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        client_id: row.opt_text("client_id")?,
        scope: row.opt_text("scope")?,
        dpop_jkt: row.opt_text("dpop_jkt")?,
        resource: row.opt_text("resource")?,
    })
}

pub(crate) fn resource(row: &impl Columns) -> StoreResult<Resource> {
    Ok(Resource {
        uri: row.text("uri")?,
        scopes: row.words("scopes")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn key(row: &impl Columns) -> StoreResult<StoredKey> {
    Ok(StoredKey {
        kid: row.text("kid")?,
        alg: row.text("alg")?,
        encrypted_private_key: row.bytes("private_key")?,
        created_at: row.time("created_at")?,
        activates_at: row.time("activates_at")?,
    })
}

pub(super) fn revoked_key(row: &impl Columns) -> StoreResult<RevokedKey> {
    Ok(RevokedKey {
        kid: row.text("kid")?,
        alg: row.text("alg")?,
        created_at: row.time("created_at")?,
        revoked_at: row.time("revoked_at")?,
    })
}

/// A refresh token whose own columns are named `token_created_at` and `token_expires_at` (the family's are the
/// plain names), as the refresh-token reads and the export select them.
pub(super) fn refresh_token(
    row: &impl Columns,
    hash: [u8; 32],
    sid: String,
) -> StoreResult<StoredRefreshToken> {
    Ok(StoredRefreshToken {
        record: RefreshTokenRecord {
            hash,
            sid,
            created_at: row.time("token_created_at")?,
            expires_at: row.time("token_expires_at")?,
        },
        used_at: row.opt_time("used_at")?,
        parent: parent_digest(row.opt_bytes("parent_hash")?)?,
    })
}

pub(super) fn rotation(row: &impl Columns) -> StoreResult<FamilyRotation> {
    Ok(FamilyRotation {
        sid: row.text("sid")?,
        hash: row.digest("rotated_hash", "a family's rotated hash")?,
        rotated_at: row.time("rotated_at")?,
        reissues: u32::try_from(row.int("reissues")?).unwrap_or(0),
    })
}

pub(super) fn pair(row: &impl Columns) -> StoreResult<(String, u64)> {
    Ok((row.text("id")?, row.time("until")?))
}
