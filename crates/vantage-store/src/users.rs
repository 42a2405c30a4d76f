//! Users, their scope access, and API tokens (stored as hashes only).

use sqlx::FromRow;
use time::OffsetDateTime;
use vantage_domain::{ApiToken, Role, ScopeId, TokenId, User, UserId};

use crate::backend::{Store, with_pool};
use crate::error::{Result, StoreError};
use crate::sql::{from_opt_ts, from_ts, parse, ts};

/// A user with the password hash, for authentication only.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    /// The user.
    pub user: User,
    /// PHC string of the password hash.
    pub password_hash: String,
}

/// Who an API token acts as, and what they may see.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    /// The token.
    pub token: ApiToken,
    /// The user.
    pub user: User,
    /// Scopes the user may see; `None` when the user sees every scope.
    pub visible_scopes: Option<Vec<ScopeId>>,
}

#[derive(FromRow)]
struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    all_scopes: bool,
    disabled: bool,
    created_at: i64,
}

impl UserRow {
    fn into_user(self) -> Result<UserWithHash> {
        Ok(UserWithHash {
            user: User {
                id: UserId(self.id),
                role: parse(&self.role, "user role")?,
                disabled: self.disabled,
                created_at: from_ts(self.created_at, "user created_at")?,
                username: self.username,
            },
            password_hash: self.password_hash,
        })
    }
}

const USER_COLUMNS: &str = "id, username, password_hash, role, all_scopes, disabled, created_at";

impl Store {
    /// Creates a user that sees every scope.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<UserId> {
        const SQL: &str = "INSERT INTO users (username, password_hash, role, created_at) \
                           VALUES ($1, $2, $3, $4) RETURNING id";
        let res: std::result::Result<i64, sqlx::Error> = with_pool!(self, |p| {
            sqlx::query_scalar(SQL)
                .bind(username)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(ts(now))
                .fetch_one(p)
                .await
        });
        res.map(UserId)
            .map_err(|e| StoreError::conflict_on_unique(e, "user", username))
    }

    /// Number of users.
    pub async fn count_users(&self) -> Result<i64> {
        Ok(with_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(p)
        .await?))
    }

    /// A user by login name, with the password hash.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserWithHash>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row: Option<UserRow> = with_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(p)
            .await?);
        row.map(UserRow::into_user).transpose()
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        const SQL: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
        let n = with_pool!(self, |p| {
            sqlx::query(SQL)
                .bind(user.0)
                .bind(password_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "user",
                key: user.to_string(),
            });
        }
        Ok(())
    }

    /// Limits a user to the given scopes (an empty list: no scope at all).
    pub async fn restrict_user_scopes(&self, user: UserId, scopes: &[ScopeId]) -> Result<()> {
        with_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE users SET all_scopes = FALSE WHERE id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM user_scopes WHERE user_id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
            for s in scopes {
                sqlx::query("INSERT INTO user_scopes (user_id, scope_id) VALUES ($1, $2)")
                    .bind(user.0)
                    .bind(s.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores a new API token by its hash.
    pub async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<TokenId> {
        const SQL: &str = "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
                           VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let id: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(SQL)
                .bind(user.0)
                .bind(name)
                .bind(token_hash)
                .bind(ts(now))
                .bind(expires_at.map(ts))
                .fetch_one(p)
                .await?
        });
        Ok(TokenId(id))
    }

    /// The owner of a live (unexpired, user enabled) token, by the token's hash.
    pub async fn token_owner(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TokenOwner>> {
        const SQL: &str = "SELECT t.id AS token_id, t.name AS token_name, t.created_at AS token_created_at, \
               t.expires_at, u.id, u.username, u.password_hash, u.role, u.all_scopes, u.disabled, u.created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND NOT u.disabled";
        #[derive(FromRow)]
        struct Row {
            token_id: i64,
            token_name: String,
            token_created_at: i64,
            expires_at: Option<i64>,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let row: Option<Row> = with_pool!(self, |p| sqlx::query_as(SQL)
            .bind(token_hash)
            .bind(ts(now))
            .fetch_optional(p)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let all_scopes = row.user.all_scopes;
        let user = row.user.into_user()?.user;
        let visible_scopes = if all_scopes {
            None
        } else {
            let ids: Vec<i64> = with_pool!(self, |p| {
                // The user's own scopes and those whose access names the user's role.
                sqlx::query_scalar(
                    "SELECT scope_id FROM user_scopes WHERE user_id = $1 \
                     UNION SELECT scope_id FROM scope_roles WHERE role = $2 ORDER BY 1",
                )
                .bind(user.id.0)
                .bind(user.role.as_str())
                .fetch_all(p)
                .await?
            });
            Some(ids.into_iter().map(ScopeId).collect())
        };
        Ok(Some(TokenOwner {
            token: ApiToken {
                id: TokenId(row.token_id),
                user_id: user.id,
                name: row.token_name,
                created_at: from_ts(row.token_created_at, "token created_at")?,
                expires_at: from_opt_ts(row.expires_at, "token expires_at")?,
            },
            user,
            visible_scopes,
        }))
    }
}
