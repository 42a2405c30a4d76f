//! The credentials vault: SSH keys, passwords and tokens sealed with XChaCha20-Poly1305 under a
//! 32-byte master key (from `secrets.master_key` / `VANTAGE_MASTER_KEY`, else a key file created
//! with mode 0600 on first use), the credential's name as associated data so a sealed secret
//! cannot be moved to another credential. Sealed text is `v1:KEYID:NONCE:CIPHERTEXT` (base64),
//! KEYID the first 8 hex digits of the key's SHA-256, so a wrong key is named, not guessed at.
//! Secrets are never printed, logged or returned by the API; plaintexts are zeroed when dropped.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use vantage_domain::{Credential, CredentialKind};
use zeroize::Zeroizing;

use crate::app::App;
use crate::config::Config;
use crate::error::AppError;

/// Seals and unseals secrets with the master key.
pub struct Vault {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(key {})", self.key_id)
    }
}

fn decode_key(text: &str, origin: &str) -> Result<Zeroizing<[u8; 32]>, AppError> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| AppError::Invalid(format!("{origin}: the master key is not base64")))?,
    );
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        AppError::Invalid(format!(
            "{origin}: the master key must be 32 bytes (base64 of 32 random bytes), not {}",
            bytes.len()
        ))
    })?;
    Ok(Zeroizing::new(key))
}

impl Vault {
    /// The vault of this configuration; creates the key file when there is no key yet.
    pub fn from_config(config: &Config) -> Result<Vault, AppError> {
        let key = if !config.secrets.master_key.is_empty() {
            decode_key(&config.secrets.master_key, "secrets.master_key")?
        } else {
            let path: PathBuf = if config.secrets.key_file.as_os_str().is_empty() {
                config.data_dir.join("master.key")
            } else {
                config.secrets.key_file.clone()
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => decode_key(&text, &path.display().to_string())?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let mut key = Zeroizing::new([0u8; 32]);
                    getrandom::fill(key.as_mut()).map_err(|e| AppError::Crypto(e.to_string()))?;
                    write_key_file(&path, &STANDARD.encode(key.as_ref()))?;
                    tracing::info!(path = %path.display(), "created the credentials vault's master key; back it up");
                    key
                }
                Err(e) => {
                    return Err(AppError::Invalid(format!(
                        "cannot read the master key {}: {e}",
                        path.display()
                    )));
                }
            }
        };
        let digest = Sha256::digest(key.as_ref());
        let key_id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
            .map_err(|_| AppError::Crypto("the master key must be 32 bytes".into()))?;
        Ok(Vault { cipher, key_id })
    }

    /// Seals a secret for the credential named `aad`.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, AppError> {
        let nonce = XNonce::generate();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| AppError::Crypto("sealing failed".into()))?;
        Ok(format!(
            "v1:{}:{}:{}",
            self.key_id,
            STANDARD.encode(nonce.as_slice()),
            STANDARD.encode(sealed)
        ))
    }

    /// Unseals the secret of the credential named `aad`.
    pub fn unseal(&self, aad: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, AppError> {
        let bad = |why: &str| AppError::Invalid(format!("credential `{aad}`: {why}"));
        let parts: Vec<&str> = sealed.split(':').collect();
        let [version, key_id, nonce, body] = parts.as_slice() else {
            return Err(bad("the stored secret is not in the vault's format"));
        };
        if *version != "v1" {
            return Err(bad(&format!("unknown vault format {version}")));
        }
        if *key_id != self.key_id {
            return Err(bad(&format!(
                "sealed under master key {key_id}, but this installation's key is {}: restore the \
                 key it was sealed with (secrets.key_file / VANTAGE_MASTER_KEY)",
                self.key_id
            )));
        }
        let nonce = STANDARD
            .decode(nonce)
            .ok()
            .and_then(|n| XNonce::try_from(n.as_slice()).ok())
            .ok_or_else(|| bad("the stored nonce is unreadable"))?;
        let body = STANDARD
            .decode(body)
            .map_err(|_| bad("the stored ciphertext is unreadable"))?;
        self.cipher
            .decrypt(&nonce, Payload { msg: &body, aad: aad.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| bad("the stored secret does not decrypt (tampered with, or moved from another credential)"))
    }
}

fn write_key_file(path: &std::path::Path, text: &str) -> Result<(), AppError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| AppError::DataDir {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            AppError::Invalid(format!(
                "cannot create the master key {}: {e}",
                path.display()
            ))
        })?;
    writeln!(f, "{text}").map_err(|e| {
        AppError::Invalid(format!(
            "cannot write the master key {}: {e}",
            path.display()
        ))
    })
}

impl App {
    pub(crate) fn vault(&self) -> Result<Vault, AppError> {
        Vault::from_config(&self.config)
    }

    /// Adds a credential: its secret sealed before it reaches the database; audited (without
    /// the secret).
    pub async fn add_credential(
        &self,
        name: &str,
        kind: CredentialKind,
        username: &str,
        secret: &[u8],
        actor: &str,
    ) -> Result<Credential, AppError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::Invalid("a credential needs a name".into()));
        }
        if secret.is_empty() {
            return Err(AppError::Invalid(format!(
                "credential `{name}`: the secret is empty"
            )));
        }
        if kind == CredentialKind::SshKey {
            let text = String::from_utf8_lossy(secret);
            if !(text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----")) {
                return Err(AppError::Invalid(format!(
                    "credential `{name}`: not a private key (expected an OpenSSH or PEM private key file)"
                )));
            }
        }
        let sealed = self.vault()?.seal(name, secret)?;
        let now = OffsetDateTime::now_utc();
        let id = self
            .store
            .add_credential(name, kind, username, &sealed, now)
            .await?;
        self.store
            .record_audit(
                now,
                actor,
                "credential.add",
                ("credential", &id.to_string()),
                &format!("name={name} kind={kind}"),
            )
            .await?;
        Ok(Credential {
            id,
            name: name.to_string(),
            kind,
            username: username.to_string(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Every credential, without secrets.
    pub async fn credentials(&self) -> Result<Vec<Credential>, AppError> {
        Ok(self.store.list_credentials().await?)
    }

    /// Removes a credential; audited.
    pub async fn remove_credential(&self, name: &str, actor: &str) -> Result<(), AppError> {
        if !self.store.remove_credential(name).await? {
            return Err(AppError::NotFound(format!("no credential named `{name}`")));
        }
        self.store
            .record_audit(
                OffsetDateTime::now_utc(),
                actor,
                "credential.remove",
                ("credential", name),
                "",
            )
            .await?;
        Ok(())
    }

    /// A credential and its secret, for a collector about to log in.
    pub async fn credential_secret(
        &self,
        name: &str,
    ) -> Result<(Credential, Zeroizing<Vec<u8>>), AppError> {
        let (c, sealed) = self
            .store
            .sealed_credential(name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no credential named `{name}`")))?;
        let secret = self.vault()?.unseal(&c.name, &sealed)?;
        Ok((c, secret))
    }
}
