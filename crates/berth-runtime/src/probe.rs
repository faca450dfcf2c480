//! Health probes against instance addresses (plain TCP and HTTP/1.1).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::HttpProbe;

/// The longest response head we read: the status line is all we need.
const MAX_HEAD: usize = 8 * 1024;

/// Sends `GET path` and reads the status line. Refused connections are reported
/// apart from bad answers: an instance still booting has not failed a check.
pub(crate) async fn http_status(addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> HttpProbe {
    let mut stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) => return HttpProbe::Refused,
        Err(_) => return HttpProbe::Failed(format!("connecting took longer than {timeout:?}")),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => HttpProbe::Failed(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => HttpProbe::Failed(format!("connection failed: {e}")),
        Ok(Ok(head)) => parse_status(&head)
            .map(HttpProbe::Status)
            .unwrap_or_else(|| HttpProbe::Failed("the answer was not HTTP".to_string())),
    }
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.0 500\r\n"), Some(500));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[tokio::test]
    async fn probes_a_real_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            assert!(request.starts_with("GET /health HTTP/1.1\r\nHost: web.test\r\n"), "{request}");
            conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await.unwrap();
        });
        let probe = http_status(addr, "web.test", "/health", Duration::from_secs(2)).await;
        assert_eq!(probe, HttpProbe::Status(503));
    }

    #[tokio::test]
    async fn refused_and_silent_are_told_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = listener.local_addr().unwrap();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        assert_eq!(http_status(closed, "h", "/", Duration::from_secs(1)).await, HttpProbe::Refused);
        let probe = http_status(silent, "h", "/", Duration::from_millis(200)).await;
        assert!(matches!(probe, HttpProbe::Failed(_)), "{probe:?}");
        drop(listener);
    }
}
