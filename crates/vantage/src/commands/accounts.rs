//! `vantage users …` and `vantage tokens …`.

use std::io::Write;

use time::{Duration, OffsetDateTime};
use vantage_app::{AppError, Config};

use crate::cli::{TokensCommand, UsersCommand};

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
