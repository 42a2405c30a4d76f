//! `vantage users …`, `vantage tokens …` and `vantage credentials …`.

use std::io::Write;

use time::{Duration, OffsetDateTime};
use vantage_app::{AppError, Config};

use crate::cli::{CredentialsCommand, TokensCommand, UsersCommand};
use crate::output::{Printer, Row};

impl Row for vantage_domain::Credential {
    fn headers() -> &'static [&'static str] {
        &["id", "name", "kind", "username", "created_at", "updated_at"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.kind.to_string(),
            self.username.clone(),
            self.created_at.to_string(),
            self.updated_at.to_string(),
        ]
    }
}

/// `vantage credentials add|list|remove`.
pub async fn credentials(config: Config, c: CredentialsCommand) -> anyhow::Result<()> {
    match c {
        CredentialsCommand::Add {
            name,
            kind,
            username,
            key_file,
            password_env,
            secret_stdin,
        } => {
            let kind: vantage_domain::CredentialKind = kind
                .parse()
                .map_err(|e: vantage_domain::ParseError| AppError::Invalid(e.to_string()))?;
            let secret = zeroize::Zeroizing::new(match (key_file, password_env, secret_stdin) {
                (Some(f), _, _) => std::fs::read(&f)
                    .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", f.display())))?,
                (_, Some(var), _) => std::env::var(&var)
                    .map_err(|_| {
                        AppError::Invalid(format!("environment variable {var} is not set"))
                    })?
                    .into_bytes(),
                (_, _, true) => {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
                    while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r')
                        && kind != vantage_domain::CredentialKind::SshKey
                    {
                        b.pop();
                    }
                    b
                }
                _ => {
                    return Err(AppError::Invalid(
                        "give the secret with --key-file, --password-env or --secret-stdin".into(),
                    )
                    .into());
                }
            });
            let app = super::open(config).await?;
            let r = app
                .add_credential(&name, kind, &username, &secret, "cli")
                .await;
            app.store.close().await;
            let c = r?;
            writeln!(
                std::io::stdout(),
                "credential {} ({}) stored, encrypted",
                c.name,
                c.kind
            )?;
        }
        CredentialsCommand::List(f) => {
            let app = super::open(config).await?;
            let list = app.credentials().await;
            app.store.close().await;
            let mut printer =
                Printer::new::<vantage_domain::Credential>(f.format, std::io::stdout().lock());
            for c in list? {
                printer.row(&c)?;
            }
            printer.finish()?;
        }
        CredentialsCommand::Remove { name } => {
            let app = super::open(config).await?;
            let r = app.remove_credential(&name, "cli").await;
            app.store.close().await;
            r?;
            writeln!(std::io::stdout(), "credential {name} removed")?;
        }
    }
    Ok(())
}

/// `vantage users reset-password USER`.
pub async fn users(config: Config, c: UsersCommand) -> anyhow::Result<()> {
    let UsersCommand::ResetPassword { username } = c;
    let app = super::open(config).await?;
    let user = app
        .store
        .user_by_name(&username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user named `{username}`")))?
        .user;
    let password = vantage_app::auth::generate_password()?;
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || vantage_app::auth::hash_password(&p)).await??;
    app.store.set_password_hash(user.id, &hash).await?;
    let now = OffsetDateTime::now_utc();
    app.store
        .record_audit(
            now,
            "cli",
            "user.reset_password",
            ("user", &user.id.to_string()),
            &username,
        )
        .await?;
    writeln!(std::io::stdout(), "new password for {username}: {password}")?;
    app.store.close().await;
    Ok(())
}

/// `vantage tokens create`.
pub async fn tokens(config: Config, c: TokensCommand) -> anyhow::Result<()> {
    let TokensCommand::Create {
        user,
        name,
        expires_in_days,
    } = c;
    let app = super::open(config).await?;
    let u = app
        .store
        .user_by_name(&user)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "no user named `{user}` (the first start creates `admin`)"
            ))
        })?
        .user;
    let now = OffsetDateTime::now_utc();
    let expires = (expires_in_days > 0).then(|| now + Duration::days(i64::from(expires_in_days)));
    let token = app.create_api_token(&u, &name, now, expires).await?;
    writeln!(std::io::stdout(), "{token}")?;
    app.store.close().await;
    Ok(())
}
