//! Authentication: argon2id password hashes, the first administrator, and API tokens.
//!
//! API tokens are `vtg_` followed by 32 random bytes (base64url); only their SHA-256 is stored,
//! so a database leak does not leak usable tokens. The prefix lets secret scanners spot them.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use vantage_domain::{Role, User};
use vantage_store::TokenOwner;

use crate::app::App;
use crate::error::AppError;

/// Prefix of every API token.
pub const TOKEN_PREFIX: &str = "vtg_";
/// Login of the administrator created at first start.
pub const FIRST_ADMIN: &str = "admin";

/// Random bytes from the operating system.
fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AppError::Crypto(e.to_string()))?;
    Ok(b)
}

/// A random password of 24 characters from an unambiguous alphabet (≈ 137 bits).
pub fn generate_password() -> Result<String, AppError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // 256 is not a multiple of the alphabet's size: reject the biased top values.
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        for b in random_bytes::<32>()? {
            if (b as usize) < limit && out.len() < 24 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Hashes a password with argon2id (PHC string). CPU-heavy: call from a blocking context.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Crypto(e.to_string()))
}

/// Checks a password against a PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Crypto(e.to_string()))
}

impl App {
    /// Creates the administrator on first start. Returns the one-time password to show, or
    /// `None` when users already exist.
    pub async fn ensure_first_admin(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<String>, AppError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let password = generate_password()?;
        let p = password.clone();
        let hash = blocking(move || hash_password(&p)).await??;
        match self
            .store
            .create_user(FIRST_ADMIN, &hash, Role::Admin, now)
            .await
        {
            Ok(id) => {
                self.store
                    .record_audit(
                        now,
                        "system",
                        "user.create",
                        ("user", &id.to_string()),
                        "first administrator",
                    )
                    .await?;
                Ok(Some(password))
            }
            // Another process created it between the count and the insert.
            Err(vantage_store::StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a username and password.
    pub async fn login(&self, username: &str, password: &str) -> Result<User, AppError> {
        let found = self.store.user_by_name(username).await?;
        let (phc, user) = match found {
            Some(u) if !u.user.disabled => (u.password_hash, Some(u.user)),
            // Hash anyway so that unknown users cost the same time as known ones.
            _ => (dummy_hash()?, None),
        };
        let pw = password.to_string();
        let ok = blocking(move || verify_password(&pw, &phc)).await?;
        match (ok, user) {
            (true, Some(user)) => Ok(user),
            _ => Err(AppError::BadCredentials),
        }
    }

    /// Issues an API token for a user; the token is returned once and never stored.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
        now: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<String, AppError> {
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
        );
        let id = self
            .store
            .create_api_token(user.id, name, &token_hash(&token), now, expires_at)
            .await?;
        self.store
            .record_audit(
                now,
                &format!("user:{}", user.username),
                "token.create",
                ("token", &id.to_string()),
                name,
            )
            .await?;
        Ok(token)
    }

    /// The owner of a token, when it is valid.
    pub async fn authenticate_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TokenOwner>, AppError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        Ok(self.store.token_owner(&token_hash(token), now).await?)
    }
}

/// A hash of a random password, verified against for unknown users so that a login attempt
/// costs the same whether or not the user exists.
fn dummy_hash() -> Result<String, AppError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password(&generate_password()?)?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let pw = generate_password().unwrap();
        assert_eq!(pw.len(), 24);
        assert_ne!(pw, generate_password().unwrap());
        let h = hash_password(&pw).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&pw, &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", &dummy_hash().unwrap()));
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
