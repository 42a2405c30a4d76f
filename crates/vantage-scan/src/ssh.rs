//! The SSH host key of a service, read the way `ssh-keyscan` does: exchange version lines and
//! KEXINIT, send a curve25519 key-exchange init, and read the host key blob the server sends in
//! its (still unencrypted) reply. No login, no session; the fingerprint is OpenSSH's
//! `SHA256:<base64>` of the key blob. Every read is bounded in bytes and time.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::source::SourcePorts;

/// The largest packet accepted before the key exchange completes.
const MAX_PACKET: usize = 64 * 1024;

/// A server's host key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostKey {
    /// Key algorithm (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa` …).
    pub algorithm: String,
    /// OpenSSH fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256.
    pub fingerprint: String,
}

fn name_list(out: &mut Vec<u8>, names: &str) {
    out.extend_from_slice(&(names.len() as u32).to_be_bytes());
    out.extend_from_slice(names.as_bytes());
}

fn packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut p = Vec::with_capacity(5 + payload.len() + pad);
    p.extend_from_slice(&((1 + payload.len() + pad) as u32).to_be_bytes());
    p.push(pad as u8);
    p.extend_from_slice(payload);
    p.extend(std::iter::repeat_n(0u8, pad));
    p
}

fn kexinit() -> Vec<u8> {
    let mut p = vec![20u8];
    let cookie: [u8; 32] = Sha256::digest(format!("{:?}", std::time::SystemTime::now())).into();
    p.extend_from_slice(&cookie[..16]);
    name_list(&mut p, "curve25519-sha256,curve25519-sha256@libssh.org");
    name_list(
        &mut p,
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa",
    );
    for _ in 0..2 {
        name_list(
            &mut p,
            "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        );
    }
    for _ in 0..2 {
        name_list(&mut p, "hmac-sha2-256,hmac-sha2-512,hmac-sha1");
    }
    for _ in 0..2 {
        name_list(&mut p, "none");
    }
    for _ in 0..2 {
        name_list(&mut p, "");
    }
    p.push(0); // first_kex_packet_follows
    p.extend_from_slice(&0u32.to_be_bytes());
    p
}

/// Reads one unencrypted binary packet's payload.
async fn read_packet<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.map_err(|e| e.to_string())?;
    let len = u32::from_be_bytes(len) as usize;
    if !(5..=MAX_PACKET).contains(&len) {
        return Err(format!(
            "a packet of {len} bytes is not SSH before key exchange"
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    let pad = body[0] as usize;
    if pad + 1 > len {
        return Err("a packet's padding is longer than the packet".into());
    }
    Ok(body[1..len - pad].to_vec())
}

/// Reads an SSH `string` at `*at`.
fn string<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let n = u32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
    let s = b.get(*at + 4..*at + 4 + n)?;
    *at += 4 + n;
    Some(s)
}

/// Reads the host key of the SSH server at `addr`, within `timeout`.
pub async fn host_key(
    addr: SocketAddr,
    timeout: Duration,
    sources: &SourcePorts,
) -> Result<HostKey, String> {
    let fut = async {
        let stream = sources
            .connect(addr, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let mut s = BufReader::new(stream);
        // The server's version line (lines before it are allowed by RFC 4253).
        let mut seen = 0;
        loop {
            let mut line = Vec::new();
            let n = (&mut s)
                .take(256)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| e.to_string())?;
            seen += 1;
            if n == 0 || seen > 20 {
                return Err("no SSH version line".to_string());
            }
            if line.starts_with(b"SSH-") {
                break;
            }
        }
        s.get_mut()
            .write_all(b"SSH-2.0-Vantage\r\n")
            .await
            .map_err(|e| e.to_string())?;
        s.get_mut()
            .write_all(&packet(&kexinit()))
            .await
            .map_err(|e| e.to_string())?;
        // Any 32 bytes are a curve25519 public key: the reply's host key is all we read.
        let mut init = vec![30u8];
        let q: [u8; 32] = Sha256::digest(b"vantage host key probe").into();
        init.extend_from_slice(&32u32.to_be_bytes());
        init.extend_from_slice(&q);
        let mut sent_init = false;
        for _ in 0..8 {
            let payload = read_packet(&mut s).await?;
            match payload.first() {
                Some(20) if !sent_init => {
                    s.get_mut()
                        .write_all(&packet(&init))
                        .await
                        .map_err(|e| e.to_string())?;
                    sent_init = true;
                }
                Some(31) => {
                    let mut at = 1;
                    let blob = string(&payload, &mut at).ok_or("a truncated key-exchange reply")?;
                    let mut k = 0;
                    let algorithm = string(blob, &mut k).ok_or("an unreadable host key blob")?;
                    let digest = Sha256::digest(blob);
                    return Ok(HostKey {
                        algorithm: String::from_utf8_lossy(algorithm).into_owned(),
                        fingerprint: format!(
                            "SHA256:{}",
                            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
                        ),
                    });
                }
                Some(1) => return Err("the server disconnected (no common key exchange?)".into()),
                _ => {}
            }
        }
        Err("no key-exchange reply".to_string())
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| "SSH key exchange timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_padded_to_blocks() {
        for n in 0..40 {
            let p = packet(&vec![7u8; n]);
            assert_eq!(p.len() % 8, 0);
            assert!(p[4] >= 4);
        }
        let mut at = 0;
        assert_eq!(string(b"\0\0\0\x03abcX", &mut at), Some(&b"abc"[..]));
        assert_eq!(at, 7);
        assert_eq!(string(b"\0\0\0\x09ab", &mut 0), None);
    }
}
